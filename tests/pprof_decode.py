#!/usr/bin/env python3
"""Decode a pprof file (gzip-compressed perftools.profiles.Profile) and print
a JSON summary, one top-level key per line.

Dependency-free: neither the protobuf module nor `go tool pprof` is needed.
The wire format is decoded generically by field number, with the schema of
profile.proto below; unknown fields are reported, not ignored.

    pprof_decode.py FILE     (- for stdin)

Besides the decoded message ("profile", string indexes resolved where the
field is an index), the summary has "gzip" (the header's mtime, flags and
OS byte), "stacks" (each sample as text, leaf first) and "checks":
facts a test asserts on (sums, dangling ids, bad string indexes).
Exit status 0, or 1 with a message on stderr if the file cannot be decoded.
"""
import gzip
import json
import struct
import sys

# message -> {field number: (name, type, repeated)}; a type is a scalar
# ('int64', 'uint64', 'bool', 'string', 'strindex': an int64 index into
# string_table) or another message.
SCHEMA = {
    'Profile': {
        1: ('sample_type', 'ValueType', True),
        2: ('sample', 'Sample', True),
        3: ('mapping', 'Mapping', True),
        4: ('location', 'Location', True),
        5: ('function', 'Function', True),
        6: ('string_table', 'string', True),
        7: ('drop_frames', 'strindex', False),
        8: ('keep_frames', 'strindex', False),
        9: ('time_nanos', 'int64', False),
        10: ('duration_nanos', 'int64', False),
        11: ('period_type', 'ValueType', False),
        12: ('period', 'int64', False),
        13: ('comment', 'strindex', True),
        14: ('default_sample_type', 'strindex', False),
    },
    'ValueType': {
        1: ('type', 'strindex', False),
        2: ('unit', 'strindex', False),
    },
    'Sample': {
        1: ('location_id', 'uint64', True),
        2: ('value', 'int64', True),
        3: ('label', 'Label', True),
    },
    'Label': {
        1: ('key', 'strindex', False),
        2: ('str', 'strindex', False),
        3: ('num', 'int64', False),
        4: ('num_unit', 'strindex', False),
    },
    'Mapping': {
        1: ('id', 'uint64', False),
        2: ('memory_start', 'uint64', False),
        3: ('memory_limit', 'uint64', False),
        4: ('file_offset', 'uint64', False),
        5: ('filename', 'strindex', False),
        6: ('build_id', 'strindex', False),
        7: ('has_functions', 'bool', False),
        8: ('has_filenames', 'bool', False),
        9: ('has_line_numbers', 'bool', False),
        10: ('has_inline_frames', 'bool', False),
    },
    'Location': {
        1: ('id', 'uint64', False),
        2: ('mapping_id', 'uint64', False),
        3: ('address', 'uint64', False),
        4: ('line', 'Line', True),
        5: ('is_folded', 'bool', False),
    },
    'Line': {
        1: ('function_id', 'uint64', False),
        2: ('line', 'int64', False),
    },
    'Function': {
        1: ('id', 'uint64', False),
        2: ('name', 'strindex', False),
        3: ('system_name', 'strindex', False),
        4: ('filename', 'strindex', False),
        5: ('start_line', 'int64', False),
    },
}
SCALARS = ('int64', 'uint64', 'bool', 'strindex')


class DecodeError(Exception):
    pass


def varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError('truncated varint')
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError('varint too long')


def scalar(kind, v):
    v &= (1 << 64) - 1
    if kind in ('int64', 'strindex') and v >= 1 << 63:
        return v - (1 << 64)
    if kind == 'bool':
        return bool(v)
    return v


def fields(buf):
    """(field number, wire type, value) for each field of one message."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        num, wire = key >> 3, key & 7
        if num == 0:
            raise DecodeError('field number 0')
        if wire == 0:
            v, pos = varint(buf, pos)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise DecodeError('truncated fixed64')
            v, pos = struct.unpack_from('<Q', buf, pos)[0], pos + 8
        elif wire == 2:
            n, pos = varint(buf, pos)
            if pos + n > len(buf):
                raise DecodeError('length %d past the end' % n)
            v, pos = bytes(buf[pos:pos + n]), pos + n
        elif wire == 5:
            if pos + 4 > len(buf):
                raise DecodeError('truncated fixed32')
            v, pos = struct.unpack_from('<I', buf, pos)[0], pos + 4
        else:
            raise DecodeError('wire type %d' % wire)
        yield num, wire, v


def decode(buf, msg, unknown, path):
    schema = SCHEMA[msg]
    out = {}
    for name, kind, repeated in schema.values():
        out[name] = [] if repeated else (None if kind in SCHEMA else
                                         '' if kind == 'string' else
                                         False if kind == 'bool' else 0)
    for num, wire, v in fields(buf):
        if num not in schema:
            unknown.append('%s.%d' % (path, num))
            continue
        name, kind, repeated = schema[num]
        if kind in SCHEMA or kind == 'string':
            if wire != 2:
                raise DecodeError('%s.%s: wire type %d' % (path, name, wire))
            if kind == 'string':
                try:
                    val = v.decode('utf-8')
                except UnicodeDecodeError as e:
                    raise DecodeError('%s.%s: %s' % (path, name, e))
            else:
                val = decode(v, kind, unknown, path + '.' + name)
            vals = [val]
        elif wire == 0:
            vals = [scalar(kind, v)]
        elif wire == 2 and repeated:  # packed
            vals, pos = [], 0
            while pos < len(v):
                x, pos = varint(v, pos)
                vals.append(scalar(kind, x))
        else:
            raise DecodeError('%s.%s: wire type %d' % (path, name, wire))
        if repeated:
            out[name].extend(vals)
        else:
            out[name] = vals[-1]  # the last one wins
    return out


def gunzip(data):
    if data[:2] != b'\x1f\x8b':
        return None, data  # pprof also reads uncompressed profiles
    if len(data) < 10:
        raise DecodeError('truncated gzip header')
    header = {'method': data[2], 'flags': data[3],
              'mtime': struct.unpack_from('<I', data, 4)[0],
              'xfl': data[8], 'os': data[9]}
    try:
        return header, gzip.decompress(data)
    except (OSError, EOFError) as e:
        raise DecodeError('gzip: %s' % e)


def summarize(data):
    header, raw = gunzip(data)
    unknown = []
    p = decode(raw, 'Profile', unknown, 'Profile')
    st = p['string_table']
    bad_str = []

    def s(i, where):
        if 0 <= i < len(st):
            return st[i]
        bad_str.append('%s=%d' % (where, i))
        return None

    def vt(v, where):
        return None if v is None else [s(v['type'], where + '.type'),
                                       s(v['unit'], where + '.unit')]

    prof = {
        'sample_type': [vt(v, 'sample_type') for v in p['sample_type']],
        'default_sample_type': s(p['default_sample_type'], 'default_sample_type'),
        'period_type': vt(p['period_type'], 'period_type'),
        'period': p['period'],
        'time_nanos': p['time_nanos'],
        'duration_nanos': p['duration_nanos'],
        'comment': [s(i, 'comment') for i in p['comment']],
        'drop_frames': s(p['drop_frames'], 'drop_frames'),
        'keep_frames': s(p['keep_frames'], 'keep_frames'),
        'mapping': [dict(m, filename=s(m['filename'], 'mapping.filename'),
                         build_id=s(m['build_id'], 'mapping.build_id'))
                    for m in p['mapping']],
        'function': [dict(f, name=s(f['name'], 'function.name'),
                          system_name=s(f['system_name'], 'function.system_name'),
                          filename=s(f['filename'], 'function.filename'))
                     for f in p['function']],
        'location': p['location'],
        'sample': [],
        'string_table': st,
    }
    for smp in p['sample']:
        labels = []
        for lb in smp['label']:
            label = {'key': s(lb['key'], 'label.key')}
            if lb['str']:
                label['str'] = s(lb['str'], 'label.str')
            else:
                label['num'] = lb['num']
                if lb['num_unit']:
                    label['num_unit'] = s(lb['num_unit'], 'label.num_unit')
            labels.append(label)
        prof['sample'].append({'location_id': smp['location_id'],
                               'value': smp['value'], 'label': labels})

    locs, funcs, dup = {}, {}, []
    for loc in prof['location']:
        if loc['id'] == 0 or loc['id'] in locs:
            dup.append('location %d' % loc['id'])
        locs[loc['id']] = loc
    for f in prof['function']:
        if f['id'] == 0 or f['id'] in funcs:
            dup.append('function %d' % f['id'])
        funcs[f['id']] = f
    missing_loc = sorted({i for smp in prof['sample'] for i in smp['location_id']
                          if i not in locs})
    missing_fn = sorted({ln['function_id'] for loc in prof['location']
                         for ln in loc['line'] if ln['function_id'] not in funcs})

    def frame(loc_id):
        loc = locs.get(loc_id)
        if loc is None:
            return '?%d' % loc_id
        parts = []
        for ln in loc['line']:
            f = funcs.get(ln['function_id'])
            if f is None:
                parts.append('?fn%d' % ln['function_id'])
            elif not f['filename']:
                parts.append(f['name'])
            elif ln['line'] > 0:
                parts.append('%s (%s:%d)' % (f['name'], f['filename'], ln['line']))
            else:
                parts.append('%s (%s)' % (f['name'], f['filename']))
        return ' / '.join(parts)

    stacks = []
    for smp in prof['sample']:
        labels = ' '.join('%s=%s' % (lb['key'], lb.get('str', lb.get('num')))
                          for lb in smp['label'])
        stacks.append('[%s] %s: %s' % (labels, smp['value'],
                                      ' <- '.join(frame(i) for i in smp['location_id'])))

    nvalues = len(prof['sample_type'])
    period = prof['period']
    checks = {
        'string_table_0_empty': bool(st) and st[0] == '',
        'samples': len(prof['sample']),
        'sum_values': [sum(smp['value'][k] for smp in prof['sample']
                           if len(smp['value']) == nvalues) for k in range(nvalues)],
        'values_per_sample_ok': all(len(smp['value']) == nvalues for smp in prof['sample']),
        'wall_is_count_times_period': all(
            len(smp['value']) == 2 and smp['value'][1] == smp['value'][0] * period
            for smp in prof['sample']),
        'empty_samples': sum(1 for smp in prof['sample'] if not smp['location_id']),
        'missing_location_ids': missing_loc,
        'missing_function_ids': missing_fn,
        'zero_or_duplicate_ids': dup,
        'bad_string_indexes': bad_str,
        'unknown_fields': sorted(set(unknown)),
    }
    return {'gzip': header, 'checks': checks, 'stacks': stacks, 'profile': prof}


def main(argv):
    if len(argv) != 2:
        sys.stderr.write('usage: pprof_decode.py FILE\n')
        return 2
    try:
        if argv[1] == '-':
            data = sys.stdin.buffer.read()
        else:
            with open(argv[1], 'rb') as f:
                data = f.read()
        summary = summarize(data)
    except (OSError, DecodeError) as e:
        sys.stderr.write('pprof_decode.py: %s: %s\n' % (argv[1], e))
        return 1
    # valid JSON, one top-level key (and one sample, stack, location,
    # function) per line, so that tests can match lines
    out = sys.stdout
    out.write('{\n')
    keys = list(summary)
    for n, key in enumerate(keys):
        val = summary[key]
        tail = ',\n' if n + 1 < len(keys) else '\n'
        if isinstance(val, dict) and key in ('checks', 'profile'):
            out.write('%s: {\n' % json.dumps(key))
            sub = list(val)
            for m, k in enumerate(sub):
                v = val[k]
                t = ',\n' if m + 1 < len(sub) else '\n'
                if isinstance(v, list) and v and isinstance(v[0], dict):
                    out.write(' %s: [\n' % json.dumps(k))
                    out.write(',\n'.join('  ' + json.dumps(x, ensure_ascii=False)
                                         for x in v))
                    out.write('\n ]' + t)
                else:
                    out.write(' %s: %s%s' % (json.dumps(k), json.dumps(v, ensure_ascii=False), t))
            out.write('}' + tail)
        elif isinstance(val, list):
            out.write('%s: [\n' % json.dumps(key))
            out.write(',\n'.join('  ' + json.dumps(x, ensure_ascii=False) for x in val))
            out.write('\n]' + tail)
        else:
            out.write('%s: %s%s' % (json.dumps(key), json.dumps(val, ensure_ascii=False), tail))
    out.write('}\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

/* Instruction position -> source line. Each decoder mirrors the lookup that
 * CPython's own PyCode_Addr2Line() performs for that version, including its
 * behaviour past the end of the table, but bounds every read by `len`: the
 * table comes from another process and may be torn or garbage.
 *
 * Lines are accumulated in int64_t. The number of deltas is bounded by `len`
 * and each delta by 2^31, so the sum cannot overflow; a result outside the
 * int range only comes from garbage and is reported as "no line".
 */
#include "linetable.h"

#include <limits.h>

static int to_line(int64_t line)
{
	if (line < INT_MIN || line > INT_MAX)
		return -1;
	return (int)line;
}

/* Byte offset for a code-unit position, saturated: addresses in a 3.8-3.10
 * table never exceed 255 * len, so any saturated value behaves like
 * "far past the end" without overflowing the multiplication. */
static int64_t unit_to_byte(int64_t unit)
{
	if (unit > INT64_MAX / 4)
		return INT64_MAX / 2;
	return unit * 2;
}

/* 3.8/3.9 co_lnotab: (addr_incr u8, line_incr s8) pairs. A line applies from
 * its address onward, so a position past the last address keeps the last
 * line (CPython never returns -1 here). An odd trailing byte is ignored, as
 * CPython counts pairs as len / 2. */
static int lnotab_line(const uint8_t *t, size_t len, int firstlineno,
		       int64_t unit)
{
	int64_t addrq = unit_to_byte(unit);
	int64_t line = firstlineno;
	int64_t addr = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		if (addr > addrq)
			break;
		line += (int8_t)t[i + 1];
	}
	return to_line(line);
}

/* 3.10 co_linetable: (size_delta u8, line_delta s8) pairs, each covering
 * [start, start + size_delta) bytes. -128 marks a range without a line; its
 * size still advances the address, and the running line is left unchanged.
 * Zero-size pairs cover nothing but their line deltas still accumulate.
 * Past the last range CPython returns -1. */
static int linetable310_line(const uint8_t *t, size_t len, int firstlineno,
			     int64_t unit)
{
	int64_t addrq = unit_to_byte(unit);
	int64_t line = firstlineno;
	int64_t end = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		int64_t start = end;
		int8_t ldelta = (int8_t)t[i + 1];

		end += t[i];
		if (ldelta != -128)
			line += ldelta;
		if (start <= addrq && addrq < end)
			return ldelta == -128 ? -1 : to_line(line);
	}
	return -1;
}

/* PEP 657 varint: 6-bit little-endian groups, 0x40 = more follow. CPython
 * does not bound this scan; we stop at the end of the table, and stop
 * accumulating once the value could no longer fit in 32 bits (where CPython's
 * own shift would be undefined anyway). */
static uint32_t scan_varint(const uint8_t *t, size_t len, size_t pos)
{
	uint32_t val = 0;
	unsigned shift = 0;

	while (pos < len) {
		uint8_t b = t[pos++];

		if (shift < 32)
			val |= (uint32_t)(b & 63) << shift;
		if (!(b & 64))
			break;
		shift += 6;
	}
	return val;
}

static int64_t scan_svarint(const uint8_t *t, size_t len, size_t pos)
{
	uint32_t u = scan_varint(t, len, pos);

	return (u & 1) ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
}

/* 3.11+ location table (Objects/locations.md). Positions are in code units.
 * Like CPython, an entry is whatever byte we stand on (bit 7 is only
 * asserted) and the next entry starts at the next byte with bit 7 set; that
 * keeps us in step with CPython even on tables we could not fully parse. */
static int location_table_line(const uint8_t *t, size_t len, int firstlineno,
			       int64_t unit)
{
	int64_t line = firstlineno;
	int64_t end = 0;
	size_t pos = 0;

	while (pos < len) {
		uint8_t head = t[pos];
		int code = (head >> 3) & 15;
		int64_t start = end;

		switch (code) {
		case 13: /* no columns */
		case 14: /* long form */
			line += scan_svarint(t, len, pos + 1);
			break;
		case 11:
		case 12: /* one-line forms: line += code - 10 */
			line += code - 10;
			break;
		default: /* short forms, one-line form 0, and 15 (none) */
			break;
		}
		end += (head & 7) + 1;
		if (start <= unit && unit < end)
			return (head >> 3) == 0x1f ? -1 : to_line(line);
		do
			pos++;
		while (pos < len && !(t[pos] & 128));
	}
	return -1;
}

int pp_linetable_line(int minor, const uint8_t *table, size_t len,
		      int firstlineno, int64_t unit)
{
	if (minor < 8 || minor > 15)
		return -1;
	if (unit < 0)
		return firstlineno;
	if (table == NULL)
		len = 0;
	switch (minor) {
	case 8:
	case 9:
		return lnotab_line(table, len, firstlineno, unit);
	case 10:
		return linetable310_line(table, len, firstlineno, unit);
	default:
		return location_table_line(table, len, firstlineno, unit);
	}
}

/* Instruction position -> source line, for every supported version's table.
 *
 * `table` is the raw bytes of the code object's co_lnotab (3.8/3.9) or
 * co_linetable (3.10+; 3.11 to 3.15 share one format). `unit` is the
 * position of the instruction in CODE UNITS (2-byte words), as the walker
 * has it:
 *   3.8/3.9   f_lasti / 2 (f_lasti is a byte offset there)
 *   3.10      f_lasti (already in code units)
 *   3.11/3.12 prev_instr - first code unit
 *   3.13+     instr_ptr  - first code unit
 * A negative unit (frame not started) yields firstlineno.
 *
 * Returns the line, or -1 where CPython itself has no line for that
 * position (PyCode_Addr2Line() returns -1): 3.10's -128 entries and 3.11+'s
 * "no location" entries. Never reads outside [table, table+len).
 */
#ifndef PYPROBE_READER_LINETABLE_H
#define PYPROBE_READER_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

int pp_linetable_line(int minor, const uint8_t *table, size_t len,
		      int firstlineno, int64_t unit);

#endif

// Package codec holds getty's ready-made codecs, one subpackage each:
//
//   - lengthfield: binary packages behind a 4-byte big-endian length;
//   - delim: text lines (or any delimiter-terminated records).
//
// Both decode without copying: a decoded package aliases the session's read
// buffer and is valid until OnMessage returns. Both implement
// getty.Detacher, so a TaskPool gets packages that own their memory.
package codec

/* See assert.h: for `cargo check` only. */
#include <stddef.h>
void abort(void);

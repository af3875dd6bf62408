/* cfi_helper.h: the functions of cfi_helper.c, in its two builds. */
#ifndef CFI_HELPER_H
#define CFI_HELPER_H

#include <stddef.h>

#ifndef CFI_NAME
#define CFI_NAME(f) cfi_none_##f
#endif

long cfi_fp_vla(size_t n);
long cfi_fp_many(long a, long b, long c, long d, long e, long f);
long cfi_nofp_vla(size_t n);
long cfi_nofp_many(long a, long b, long c, long d, long e, long f);

#endif

/* Instantiates the kernels of gf_kernels_impl.h for double and float. */
#include "gf_kernels.h"

#include <stdlib.h>
#include <omp.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define GF_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GF_CLONES
#endif

/* Rows per block: the block of X plus its residuals should sit in L2 (512 KiB here) while the
 * second sweep reads it back; 192 KiB leaves room for w, g and the other thread's traffic. */
#define GF_BLOCK_BYTES (192 * 1024)
/* Below this many elements per thread, OpenMP's fork/join costs more than it saves. */
#define GF_MIN_ELEMS_PER_THREAD ((gf_int)1 << 17)

static gf_int gf_block_rows(gf_int n, size_t itemsize)
{
    gf_int b = (gf_int)(GF_BLOCK_BYTES / ((size_t)n * itemsize));
    if (b < 16) b = 16;
    return b - b % 4;
}

int gf_default_threads(gf_int m, gf_int n)
{
    gf_int by_size = (m * n) / GF_MIN_ELEMS_PER_THREAD;
    int nt = omp_get_max_threads();
    if (by_size < nt) nt = (int)by_size;
    return nt < 1 ? 1 : nt;
}

#define REAL double
#define SFX(name) name##_d
#include "gf_kernels_impl.h"
#undef REAL
#undef SFX

#define REAL float
#define SFX(name) name##_s
#include "gf_kernels_impl.h"
#undef REAL
#undef SFX

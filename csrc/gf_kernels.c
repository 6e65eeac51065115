/* Instantiates the kernels of gf_kernels_impl.h for double and float. */
#include "gf_kernels.h"

#include <stdlib.h>
#include <omp.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define GF_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GF_CLONES
#endif

/* Rows per block. Column-major blocks are swept twice (X d, then X^T r), so a block must sit in
 * L2 (512 KiB here) between the sweeps: 192 KiB leaves room for w, g and the residuals.
 * Row-major blocks are swept once (four rows at a time); their size only bounds the length of
 * the float32 partial sums (and sets the grain of the thread partition). */
#define GF_BLOCK_BYTES (192 * 1024)
#define GF_ROW_BLOCK_ROWS 1024
/* How far ahead (in rows) the row-major sweep prefetches: measured best at 8 on this machine
 * (three times the bandwidth of no prefetch at n = 100; no effect for wide rows). */
#ifndef GF_PREFETCH_ROWS
#define GF_PREFETCH_ROWS 8
#endif
/* Below this many elements per thread, OpenMP's fork/join costs more than it saves. */
#define GF_MIN_ELEMS_PER_THREAD ((gf_int)1 << 17)

static gf_int gf_block_rows(gf_int n, size_t itemsize, int row_major)
{
    if (row_major) return GF_ROW_BLOCK_ROWS;
    gf_int b = (gf_int)(GF_BLOCK_BYTES / ((size_t)n * itemsize));
    if (b < 16) b = 16;
    return b - b % 4;
}

gf_int gf_batch_scratch_size(gf_int n)
{
    return n + 2 + GF_ROW_BLOCK_ROWS * (n + 1);
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

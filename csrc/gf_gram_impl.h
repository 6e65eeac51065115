/* Type-generic body of gf_gram.c, included once per precision with
 *   REAL, SFX(name): element type and name suffix;
 *   VEC, VLEN: the AVX2 vector type and its number of lanes;
 *   VZERO(), VLOADU(p), VSTOREU(p, v), VMLOAD(p, mask), VMSTORE(p, mask, v), VBCAST(p),
 *   VFMA(a, b, c) = a*b + c, VADD(a, b): the intrinsics;
 *   MASK_T, MASK_FOR(rem): the lane mask's type and the mask of the first rem lanes;
 *   GF_AVX2, GF_AVX2_INLINE: the target attributes of its functions.
 * Everything here is compiled for AVX2 + FMA (or AVX-512F) only and called after a CPU
 * check. The file undefines those parameters at its end, ready for the next instantiation. */

/* One micro-tile over kc rows: for the broadcast columns j0..j0+jw-1 and the vector columns
 * i0..i0+nv*VLEN-1, C[j][i] += sum_k A[k][i] * A[k][j]. nv, jw, masked and two are compile-time
 * constants at every call (the function is always inlined into the dispatch switch), so the
 * accumulators, named variables rather than arrays (GCC kept arrays of vectors on the stack),
 * live in registers. `masked`: the last vector runs past column n-1; its C entries are
 * loaded and stored through `mask`. A's rows are read whole-vector, past column n-1 into the
 * following rows: the lanes beyond n-1 only ever reach masked-off C entries, and the driver
 * keeps the block's last rows, whose overrun could leave the array, out of the tiles.
 * `two`: tiles of at most six accumulators keep a second set for odd rows, since one FMA
 * chain per accumulator would wait on FMA latency. */
#define GF_EACH(M) M(0, 0) M(0, 1) M(0, 2) M(0, 3) M(1, 0) M(1, 1) M(1, 2) M(1, 3) \
                   M(2, 0) M(2, 1) M(2, 2) M(2, 3)
#define GF_ON(v, j) ((v) < nv && (j) < jw)
#define GF_LAST(v) (masked && (v) == nv - 1)
#define GF_VLOAD(v, p) (GF_LAST(v) ? VMLOAD(p, mask) : VLOADU(p))
#define GF_CPTR(v, j) (C + (j0 + (j)) * ldc + i0 + (v) * VLEN)
#define GF_DECL(v, j) VEC c##v##j = VZERO(), d##v##j = VZERO(); \
    if (GF_ON(v, j)) c##v##j = GF_VLOAD(v, GF_CPTR(v, j));
#define GF_SAVE(v, j) if (GF_ON(v, j)) { \
        const VEC r = two ? VADD(c##v##j, d##v##j) : c##v##j; \
        if (GF_LAST(v)) VMSTORE(GF_CPTR(v, j), mask, r); else VSTOREU(GF_CPTR(v, j), r); }
/* One row: the vectors are loaded once, each broadcast is consumed by its FMAs at once, so
 * that 12 accumulators, 3 vectors and 1 broadcast fit the 16 registers. */
#define GF_BSTEP(acc, x, j, b) if ((j) < jw) { const VEC s = VBCAST((b) + (j)); \
        acc##0##j = VFMA(x##0, s, acc##0##j); \
        if (nv > 1) acc##1##j = VFMA(x##1, s, acc##1##j); \
        if (nv > 2) acc##2##j = VFMA(x##2, s, acc##2##j); }
#define GF_ROW(acc, x, a, b) { \
    const VEC x##0 = VLOADU(a); \
    const VEC x##1 = nv > 1 ? VLOADU((a) + VLEN) : VZERO(); \
    const VEC x##2 = nv > 2 ? VLOADU((a) + 2 * VLEN) : VZERO(); \
    GF_BSTEP(acc, x, 0, b) GF_BSTEP(acc, x, 1, b) GF_BSTEP(acc, x, 2, b) \
    GF_BSTEP(acc, x, 3, b) }

GF_AVX2_INLINE static void SFX(gram_tile)(gf_int kc, const REAL *A, gf_int lda, gf_int i0,
                                          gf_int j0, REAL *C, gf_int ldc, MASK_T mask,
                                          const int nv, const int jw, const int masked,
                                          const int two)
{
    GF_EACH(GF_DECL)
    gf_int k = 0;
    if (two) {
        for (; k + 2 <= kc; k += 2) {
            const REAL *a = A + k * lda;
            GF_ROW(c, x, a + i0, a + j0)
            GF_ROW(d, x, a + lda + i0, a + lda + j0)
        }
    }
    for (; k < kc; k++) {
        const REAL *a = A + k * lda;
        GF_ROW(c, x, a + i0, a + j0)
    }
    GF_EACH(GF_SAVE)
}
#undef GF_DECL
#undef GF_BSTEP
#undef GF_SAVE
#undef GF_CPTR
#undef GF_ROW

/* X^T y for the vector columns i0..i0+nv*VLEN-1 over kc rows: four rows at a time into four
 * accumulator sets (the same latency argument as above). Here the accumulators are
 * c{row}{vector}: the broadcast is y. */
#define GF_DECL(u, v) VEC c##u##v = VZERO();
#define GF_STEP(u, v) if ((v) < nv) c##u##v = VFMA(VLOADU(A + (k + (u)) * lda + i0 + (v) * VLEN), \
                                            VBCAST(y + k + (u)), c##u##v);
#define GF_EACH4(M) M(0, 0) M(0, 1) M(0, 2) M(1, 0) M(1, 1) M(1, 2) M(2, 0) M(2, 1) M(2, 2) \
                    M(3, 0) M(3, 1) M(3, 2)
GF_AVX2_INLINE static void SFX(xty_tile)(gf_int kc, const REAL *A, gf_int lda, gf_int i0,
                                         const REAL *y, REAL *xty, MASK_T mask, const int nv,
                                         const int masked)
{
    GF_EACH4(GF_DECL)
    gf_int k = 0;
    for (; k + 4 <= kc; k += 4) {
        GF_EACH4(GF_STEP)
    }
    for (; k < kc; k++) {
        GF_STEP(0, 0) GF_STEP(0, 1) GF_STEP(0, 2)
    }
#define GF_SAVE(v) if ((v) < nv) { \
        REAL *p = xty + i0 + (v) * VLEN; \
        const VEC r = VADD(VADD(c0##v, c1##v), VADD(c2##v, c3##v)); \
        if (GF_LAST(v)) VMSTORE(p, mask, VADD(VMLOAD(p, mask), r)); \
        else VSTOREU(p, VADD(VLOADU(p), r)); }
    GF_SAVE(0) GF_SAVE(1) GF_SAVE(2)
}
#undef GF_SAVE
#undef GF_DECL
#undef GF_STEP
#undef GF_EACH4
#undef GF_EACH
#undef GF_ON
#undef GF_LAST
#undef GF_VLOAD

#define GF_TILE(NV, JW, M) \
    SFX(gram_tile)(kc, A, lda, i0, j0, C, ldc, mask, NV, JW, M, (NV) * (JW) <= 6)

/* The switch turns the run-time tile shape into one of the 24 constant-shape instantiations. */
GF_AVX2 static void SFX(gram_tile_any)(gf_int kc, const REAL *A, gf_int lda, gf_int i0,
                                       gf_int j0, REAL *C, gf_int ldc, MASK_T mask, int nv,
                                       int jw, int masked)
{
    switch ((nv - 1) * 8 + (jw - 1) * 2 + masked) {
    case 0: GF_TILE(1, 1, 0); break;   case 1: GF_TILE(1, 1, 1); break;
    case 2: GF_TILE(1, 2, 0); break;   case 3: GF_TILE(1, 2, 1); break;
    case 4: GF_TILE(1, 3, 0); break;   case 5: GF_TILE(1, 3, 1); break;
    case 6: GF_TILE(1, 4, 0); break;   case 7: GF_TILE(1, 4, 1); break;
    case 8: GF_TILE(2, 1, 0); break;   case 9: GF_TILE(2, 1, 1); break;
    case 10: GF_TILE(2, 2, 0); break;  case 11: GF_TILE(2, 2, 1); break;
    case 12: GF_TILE(2, 3, 0); break;  case 13: GF_TILE(2, 3, 1); break;
    case 14: GF_TILE(2, 4, 0); break;  case 15: GF_TILE(2, 4, 1); break;
    case 16: GF_TILE(3, 1, 0); break;  case 17: GF_TILE(3, 1, 1); break;
    case 18: GF_TILE(3, 2, 0); break;  case 19: GF_TILE(3, 2, 1); break;
    case 20: GF_TILE(3, 3, 0); break;  case 21: GF_TILE(3, 3, 1); break;
    case 22: GF_TILE(3, 4, 0); break;  default: GF_TILE(3, 4, 1); break;
    }
}
#undef GF_TILE

GF_AVX2 static void SFX(xty_any)(gf_int kc, const REAL *A, gf_int lda, gf_int i0,
                                 const REAL *y, REAL *xty, MASK_T mask, int nv, int masked)
{
    switch ((nv - 1) * 2 + masked) {
    case 0: SFX(xty_tile)(kc, A, lda, i0, y, xty, mask, 1, 0); break;
    case 1: SFX(xty_tile)(kc, A, lda, i0, y, xty, mask, 1, 1); break;
    case 2: SFX(xty_tile)(kc, A, lda, i0, y, xty, mask, 2, 0); break;
    case 3: SFX(xty_tile)(kc, A, lda, i0, y, xty, mask, 2, 1); break;
    case 4: SFX(xty_tile)(kc, A, lda, i0, y, xty, mask, 3, 0); break;
    default: SFX(xty_tile)(kc, A, lda, i0, y, xty, mask, 3, 1); break;
    }
}

/* Rows of the block's tail, one at a time: a whole-vector read of them could run past the
 * array. */
static void SFX(gram_rows_scalar)(gf_int rows, gf_int n, const REAL *A, gf_int lda,
                                  const REAL *y, REAL *C, gf_int ldc, REAL *xty)
{
    for (gf_int k = 0; k < rows; k++) {
        const REAL *a = A + k * lda;
        for (gf_int j = 0; j < n; j++) {
            for (gf_int i = 0; i <= j; i++) C[j * ldc + i] += a[i] * a[j];
            if (y) xty[j] += a[j] * y[k];
        }
    }
}

GF_AVX2 int SFX(gf_gram_rows)(gf_int b, gf_int n, const REAL *A, gf_int lda, const REAL *y,
                              REAL *C, gf_int ldc, REAL *xty)
{
    const gf_int nvec = (n + VLEN - 1) / VLEN;
    const int tail = (int)(n % VLEN);
    const MASK_T mask = MASK_FOR(tail);
    const gf_int jblocks = (n + GF_JW - 1) / GF_JW;
    const gf_int row_bytes = lda * (gf_int)sizeof(REAL);
    /* Rows per chunk: the chunk stays in L1 while every tile sweeps it. */
    gf_int kc = GF_GRAM_CHUNK_BYTES / row_bytes;
    if (kc < 8) kc = 8;
    /* Row k's vectors end at k*lda + nvec*VLEN - 1, `over` elements past its last column:
     * inside the array while k*lda + over <= (b-1)*lda, i.e. for all but the last
     * ceil(over / lda) rows (two or more only when rows are narrower than half a vector). */
    const gf_int over = nvec * VLEN - n;
    const gf_int tail_rows = (over + lda - 1) / lda;
    const gf_int body = b > tail_rows ? b - tail_rows : 0;
    for (gf_int k0 = 0; k0 < body; k0 += kc) {
        const gf_int rows = body - k0 < kc ? body - k0 : kc;
        const REAL *Ak = A + k0 * lda;
        /* The next chunk, prefetched a slice per column block: the tiles' strided sweeps
         * of a chunk straight from memory run at less than half speed (measured: 22 against
         * 47 GFLOP/s at n = 100). */
        const gf_int next = b - (k0 + rows) < kc ? b - (k0 + rows) : kc;
        const char *pf = (const char *)(Ak + rows * lda);
        const gf_int pf_lines = (next * row_bytes + 63) / 64;
        const gf_int pf_step = (pf_lines + jblocks - 1) / jblocks;
        gf_int pf_done = 0;
        for (gf_int j0 = 0; j0 < n; j0 += GF_JW) {
            for (gf_int l = 0; l < pf_step && pf_done < pf_lines; l++, pf_done++)
                _mm_prefetch(pf + 64 * pf_done, _MM_HINT_T0);
            const int jw = (int)(n - j0 < GF_JW ? n - j0 : GF_JW);
            const gf_int need = (j0 + jw - 1) / VLEN + 1;  /* vectors reaching column j0+jw-1 */
            for (gf_int v0 = 0; v0 < need; v0 += GF_NV) {
                const int nv = (int)(need - v0 < GF_NV ? need - v0 : GF_NV);
                const int masked = tail && v0 + nv == nvec;
                SFX(gram_tile_any)(rows, Ak, lda, v0 * VLEN, j0, C, ldc, mask, nv, jw, masked);
            }
        }
        if (y)
            for (gf_int v0 = 0; v0 < nvec; v0 += GF_NV) {
                const int nv = (int)(nvec - v0 < GF_NV ? nvec - v0 : GF_NV);
                SFX(xty_any)(rows, Ak, lda, v0 * VLEN, y + k0, xty, mask, nv,
                             tail && v0 + nv == nvec);
            }
    }
    SFX(gram_rows_scalar)(b - body, n, A + body * lda, lda, y ? y + body : NULL, C, ldc, xty);
    return 0;
}

#undef REAL
#undef SFX
#undef VEC
#undef VLEN
#undef VZERO
#undef VLOADU
#undef VSTOREU
#undef VMLOAD
#undef VMSTORE
#undef VBCAST
#undef VFMA
#undef VADD
#undef MASK_FOR
#undef MASK_T

# The engine's random numbers: xoshiro256** and a Fisher-Yates shuffle, both without the GIL.
# The state is four uint64 words, never all zero (the generator's fixed point); descent.py
# seeds it and _state.py checks a resumed one.
from ._kernels cimport gf_int

cdef extern from *:
    ctypedef unsigned long long uint128 "__uint128_t"


cdef inline unsigned long long _rotl(unsigned long long x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline unsigned long long next_u64(unsigned long long *s) noexcept nogil:
    """xoshiro256** (Blackman & Vigna 2018): the next 64 random bits; advances s."""
    cdef unsigned long long result = _rotl(s[1] * 5, 7) * 9, t = s[1] << 17
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


cdef inline void shuffle(gf_int *idx, gf_int m, unsigned long long *s) noexcept nogil:
    """Fisher-Yates, with Lemire's nearly divisionless bounded integers."""
    cdef gf_int i, j, tmp
    cdef unsigned long long bound, r
    cdef uint128 prod
    for i in range(m - 1, 0, -1):
        bound = <unsigned long long> (i + 1)
        while True:
            r = next_u64(s)
            prod = <uint128> r * bound
            if <unsigned long long> prod >= (-bound) % bound:
                break
        j = <gf_int> (prod >> 64)
        tmp = idx[i]
        idx[i] = idx[j]
        idx[j] = tmp

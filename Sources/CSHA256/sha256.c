#include "muflow_sha256.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MUFLOW_SHA256_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotate_right(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static inline uint32_t load_big_endian(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void compress_portable(uint32_t state[8], const uint8_t *data, size_t blocks) {
    uint32_t w[64];
    for (; blocks > 0; blocks--, data += 64) {
        for (int t = 0; t < 16; t++) w[t] = load_big_endian(data + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = rotate_right(w[t - 15], 7) ^ rotate_right(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = rotate_right(w[t - 2], 17) ^ rotate_right(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int t = 0; t < 64; t++) {
            uint32_t sum1 = rotate_right(e, 6) ^ rotate_right(e, 11) ^ rotate_right(e, 25);
            uint32_t choice = (e & f) ^ (~e & g);
            uint32_t t1 = h + sum1 + choice + round_constants[t] + w[t];
            uint32_t sum0 = rotate_right(a, 2) ^ rotate_right(a, 13) ^ rotate_right(a, 22);
            uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
            uint32_t t2 = sum0 + majority;
            h = g; g = f; f = e; e = d + t1;
            d = c; c = b; b = a; a = t1 + t2;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
    }
}

#ifdef MUFLOW_SHA256_X86
/* The SHA extensions keep the state as two vectors, ABEF and CDGH, and do two rounds
 * per instruction; the message schedule advances four words at a time. */
__attribute__((target("sha,sse4.1,ssse3")))
static void compress_x86_sha(uint32_t state[8], const uint8_t *data, size_t blocks) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i dcba = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&state[4]);
    __m128i badc = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(badc, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, badc, 0xF0);

    for (; blocks > 0; blocks--, data += 64) {
        const __m128i abef_before = abef, cdgh_before = cdgh;
        __m128i words[4];
        for (int i = 0; i < 4; i++) {
            words[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), byte_swap);
        }
        for (int group = 0; group < 16; group++) {
            if (group >= 4) {
                __m128i next = _mm_sha256msg1_epu32(words[group & 3], words[(group + 1) & 3]);
                next = _mm_add_epi32(next, _mm_alignr_epi8(words[(group + 3) & 3], words[(group + 2) & 3], 4));
                words[group & 3] = _mm_sha256msg2_epu32(next, words[(group + 3) & 3]);
            }
            __m128i message = _mm_add_epi32(words[group & 3],
                                            _mm_loadu_si128((const __m128i *)&round_constants[4 * group]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, message);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(message, 0x0E));
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }

    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(dchg, feba, 8));
}

/* Two independent messages, `blocks` blocks each, their rounds interleaved: one
 * message's rounds wait on the previous round's result, so a second message's rounds
 * fill the gaps (nearly twice the throughput of two calls). */
__attribute__((target("sha,sse4.1,ssse3")))
static void compress_x86_sha_two(uint32_t state_a[8], const uint8_t *data_a,
                                 uint32_t state_b[8], const uint8_t *data_b, size_t blocks) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i abef[2], cdgh[2];
    uint32_t *states[2] = {state_a, state_b};
    for (int m = 0; m < 2; m++) {
        __m128i dcba = _mm_loadu_si128((const __m128i *)&states[m][0]);
        __m128i hgfe = _mm_loadu_si128((const __m128i *)&states[m][4]);
        __m128i badc = _mm_shuffle_epi32(dcba, 0xB1);
        __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
        abef[m] = _mm_alignr_epi8(badc, efgh, 8);
        cdgh[m] = _mm_blend_epi16(efgh, badc, 0xF0);
    }
    for (; blocks > 0; blocks--, data_a += 64, data_b += 64) {
        const __m128i abef_a = abef[0], cdgh_a = cdgh[0], abef_b = abef[1], cdgh_b = cdgh[1];
        __m128i wa[4], wb[4];
        for (int i = 0; i < 4; i++) {
            wa[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data_a + 16 * i)), byte_swap);
            wb[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data_b + 16 * i)), byte_swap);
        }
        for (int group = 0; group < 16; group++) {
            if (group >= 4) {
                __m128i na = _mm_sha256msg1_epu32(wa[group & 3], wa[(group + 1) & 3]);
                __m128i nb = _mm_sha256msg1_epu32(wb[group & 3], wb[(group + 1) & 3]);
                na = _mm_add_epi32(na, _mm_alignr_epi8(wa[(group + 3) & 3], wa[(group + 2) & 3], 4));
                nb = _mm_add_epi32(nb, _mm_alignr_epi8(wb[(group + 3) & 3], wb[(group + 2) & 3], 4));
                wa[group & 3] = _mm_sha256msg2_epu32(na, wa[(group + 3) & 3]);
                wb[group & 3] = _mm_sha256msg2_epu32(nb, wb[(group + 3) & 3]);
            }
            const __m128i k = _mm_loadu_si128((const __m128i *)&round_constants[4 * group]);
            __m128i ma = _mm_add_epi32(wa[group & 3], k);
            __m128i mb = _mm_add_epi32(wb[group & 3], k);
            cdgh[0] = _mm_sha256rnds2_epu32(cdgh[0], abef[0], ma);
            cdgh[1] = _mm_sha256rnds2_epu32(cdgh[1], abef[1], mb);
            abef[0] = _mm_sha256rnds2_epu32(abef[0], cdgh[0], _mm_shuffle_epi32(ma, 0x0E));
            abef[1] = _mm_sha256rnds2_epu32(abef[1], cdgh[1], _mm_shuffle_epi32(mb, 0x0E));
        }
        abef[0] = _mm_add_epi32(abef[0], abef_a);
        cdgh[0] = _mm_add_epi32(cdgh[0], cdgh_a);
        abef[1] = _mm_add_epi32(abef[1], abef_b);
        cdgh[1] = _mm_add_epi32(cdgh[1], cdgh_b);
    }
    for (int m = 0; m < 2; m++) {
        __m128i feba = _mm_shuffle_epi32(abef[m], 0x1B);
        __m128i dchg = _mm_shuffle_epi32(cdgh[m], 0xB1);
        _mm_storeu_si128((__m128i *)&states[m][0], _mm_blend_epi16(feba, dchg, 0xF0));
        _mm_storeu_si128((__m128i *)&states[m][4], _mm_alignr_epi8(dchg, feba, 8));
    }
}

static int cpu_has_sha_extensions(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    int sse41 = (ecx >> 19) & 1, ssse3 = (ecx >> 9) & 1;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return sse41 && ssse3 && ((ebx >> 29) & 1);
}
#endif

typedef void (*compress_function)(uint32_t state[8], const uint8_t *data, size_t blocks);

/* Decided once; a benign race (every thread computes the same answer). */
static volatile int chosen = -1;   /* -1 unknown, 0 portable, 1 CPU extensions */
static volatile int portable_forced = 0;

static compress_function compressor(void) {
    if (portable_forced) return compress_portable;
#ifdef MUFLOW_SHA256_X86
    if (chosen < 0) chosen = cpu_has_sha_extensions();
    if (chosen) return compress_x86_sha;
#endif
    return compress_portable;
}

int muflow_sha256_uses_cpu_extensions(void) { return compressor() != compress_portable; }

void muflow_sha256_force_portable(int portable) { portable_forced = portable != 0; }

void muflow_sha256_init(muflow_sha256 *context) {
    static const uint32_t initial[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    memcpy(context->state, initial, sizeof initial);
    context->length = 0;
    context->pending_count = 0;
}

void muflow_sha256_update(muflow_sha256 *context, const void *data, size_t length) {
    const uint8_t *bytes = data;
    context->length += length;
    compress_function compress = compressor();
    if (context->pending_count > 0) {
        size_t take = 64 - context->pending_count;
        if (take > length) take = length;
        memcpy(context->pending + context->pending_count, bytes, take);
        context->pending_count += (uint32_t)take;
        bytes += take;
        length -= take;
        if (context->pending_count < 64) return;
        compress(context->state, context->pending, 1);
        context->pending_count = 0;
    }
    if (length >= 64) {
        compress(context->state, bytes, length / 64);
        bytes += length / 64 * 64;
        length %= 64;
    }
    memcpy(context->pending, bytes, length);
    context->pending_count = (uint32_t)length;
}

void muflow_sha256_final(muflow_sha256 *context, uint8_t digest[MUFLOW_SHA256_DIGEST_LENGTH]) {
    uint64_t bits = context->length * 8;
    uint8_t tail[128] = {0};
    size_t count = context->pending_count;
    memcpy(tail, context->pending, count);
    tail[count] = 0x80;
    size_t total = count + 1 + 8 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++) tail[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    compressor()(context->state, tail, total / 64);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(context->state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(context->state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(context->state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)context->state[i];
    }
}

/* A short message with its padding, in `padded` (room for MUFLOW_SHA256_PAIR_MAX + 72
 * bytes); returns the number of blocks. */
static size_t pad_message(const uint8_t *message, size_t length, uint8_t *padded) {
    size_t total = (length + 9 + 63) / 64 * 64;
    memcpy(padded, message, length);
    memset(padded + length, 0, total - length);
    padded[length] = 0x80;
    uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++) padded[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    return total / 64;
}

static void write_digest(const uint32_t state[8], uint8_t digest[MUFLOW_SHA256_DIGEST_LENGTH]) {
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)state[i];
    }
}

static void digest_one(const uint8_t *message, size_t length, uint8_t digest[MUFLOW_SHA256_DIGEST_LENGTH]) {
    muflow_sha256 context;
    muflow_sha256_init(&context);
    muflow_sha256_update(&context, message, length);
    muflow_sha256_final(&context, digest);
}

void muflow_sha256_pair(const uint8_t *a, size_t a_length, const uint8_t *b, size_t b_length,
                        uint8_t digest_a[MUFLOW_SHA256_DIGEST_LENGTH], uint8_t digest_b[MUFLOW_SHA256_DIGEST_LENGTH]) {
    compress_function compress = compressor();
#ifdef MUFLOW_SHA256_X86
    if (compress == compress_x86_sha && a_length <= MUFLOW_SHA256_PAIR_MAX && b_length <= MUFLOW_SHA256_PAIR_MAX) {
        uint8_t padded_a[MUFLOW_SHA256_PAIR_MAX + 72], padded_b[MUFLOW_SHA256_PAIR_MAX + 72];
        size_t blocks_a = pad_message(a, a_length, padded_a), blocks_b = pad_message(b, b_length, padded_b);
        size_t both = blocks_a < blocks_b ? blocks_a : blocks_b;
        muflow_sha256 state_a, state_b;
        muflow_sha256_init(&state_a);
        muflow_sha256_init(&state_b);
        compress_x86_sha_two(state_a.state, padded_a, state_b.state, padded_b, both);
        if (blocks_a > both) compress_x86_sha(state_a.state, padded_a + 64 * both, blocks_a - both);
        if (blocks_b > both) compress_x86_sha(state_b.state, padded_b + 64 * both, blocks_b - both);
        write_digest(state_a.state, digest_a);
        write_digest(state_b.state, digest_b);
        return;
    }
#endif
    (void)compress;
    digest_one(a, a_length, digest_a);
    digest_one(b, b_length, digest_b);
}

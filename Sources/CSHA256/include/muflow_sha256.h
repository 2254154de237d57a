/* SHA-256 (FIPS 180-4) for the engine's content hashes and file digests. Internal to
 * libmuflow: not part of muflow.h, and not exported from the library. */
#ifndef MUFLOW_SHA256_H
#define MUFLOW_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define MUFLOW_SHA256_DIGEST_LENGTH 32

/* Plain data: copying the struct copies the hash state (the planner resumes from
 * copies taken after a shared prefix). */
typedef struct muflow_sha256 {
    uint32_t state[8];
    uint64_t length;         /* bytes hashed so far */
    uint8_t pending[64];     /* bytes not yet compressed */
    uint32_t pending_count;
} muflow_sha256;

void muflow_sha256_init(muflow_sha256 *context);
void muflow_sha256_update(muflow_sha256 *context, const void *data, size_t length);
/* Writes the digest; the context must be initialised again before reuse. */
void muflow_sha256_final(muflow_sha256 *context, uint8_t digest[MUFLOW_SHA256_DIGEST_LENGTH]);

/* The digests of two whole messages at once, faster than one after the other where
 * the CPU has SHA extensions and both are at most MUFLOW_SHA256_PAIR_MAX bytes (the
 * rounds of one fill the gaps between those of the other); the same digests as
 * init/update/final. */
#define MUFLOW_SHA256_PAIR_MAX 1024
void muflow_sha256_pair(const uint8_t *a, size_t a_length, const uint8_t *b, size_t b_length,
                        uint8_t digest_a[MUFLOW_SHA256_DIGEST_LENGTH], uint8_t digest_b[MUFLOW_SHA256_DIGEST_LENGTH]);

/* For tests: 1 while the SHA extensions of the CPU are used, 0 for the portable code;
 * `muflow_sha256_force_portable(1)` makes later calls use the portable code. */
int muflow_sha256_uses_cpu_extensions(void);
void muflow_sha256_force_portable(int portable);

#endif

/* fuzz_loader.c -- deterministic mutation fuzzing of be_model_init / be_prepare / be_invoke.
 *
 *   build/fuzz_loader BLOB.bnm [ITERATIONS=5000] [SEED=1]
 *
 * Built with -fsanitize=address,undefined -fno-sanitize-recover=all (make fuzz): every
 * mutated blob is copied into a heap buffer of exactly its size, so any read past it, any
 * signed overflow or misaligned access aborts the run. Mutations: bit flips, byte / u32 field
 * overwrites with interesting values (biased towards the header and the tables), truncations,
 * total-size edits. Half of them get their CRC recomputed so the deeper validation runs. Every
 * blob that loads is prepared (with an exact-size arena) and invoked on random pixels.
 * Prints a histogram of statuses; exits 0 unless the valid blob itself fails to load.
 */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binedge.h"

static uint64_t rng_state;

static uint32_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 16);
}

static uint32_t below(uint32_t n)
{
    return n ? rnd() % n : 0u;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t interesting(uint32_t size)
{
    static const uint32_t vals[] = {0u, 1u, 2u, 3u, 4u, 15u, 16u, 17u, 31u, 32u, 33u, 64u, 96u, 255u, 256u,
                                    0x7FFFu, 0xFFFFu, 0x10000u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFF0u,
                                    0xFFFFFFFFu, 0xFFFFFFFEu, 0x01000000u};
    switch (below(4)) {
    case 0: return vals[below(sizeof vals / sizeof vals[0])];
    case 1: return size + below(64) - 32u;
    case 2: return below(size + 64u) & ~15u;
    default: return rnd();
    }
}

int main(int argc, char **argv)
{
    FILE *f;
    long n;
    uint8_t *orig;
    size_t size;
    unsigned long iters = 5000, it;
    unsigned long hist[16] = {0}, invoked = 0;
    be_model *model = malloc(sizeof *model);
    be_interpreter *interp = malloc(sizeof *interp);
    uint32_t meta_end;

    if (argc < 2 || model == NULL || interp == NULL) {
        fprintf(stderr, "usage: %s BLOB.bnm [ITERATIONS] [SEED]\n", argv[0]);
        return 2;
    }
    if (argc > 2)
        iters = strtoul(argv[2], NULL, 10);
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 1u;
    f = fopen(argv[1], "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 96 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    size = (size_t)n;
    orig = malloc(size);
    if (orig == NULL || fread(orig, 1, size, f) != size) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    fclose(f);
    if (be_model_init(model, orig, size) != BE_OK) {
        fprintf(stderr, "the unmutated blob does not load\n");
        return 1;
    }
    meta_end = rd32(orig + 84); /* data offset: header + tables + strings + metadata end here */

    for (it = 0; it < iters; it++) {
        size_t len = size;
        uint8_t *buf = malloc(size + 64u);
        uint8_t *exact;
        uint32_t k, nmut = 1u + below(3), fix = below(2);
        be_status st;
        if (buf == NULL)
            return 2;
        memcpy(buf, orig, size);
        memset(buf + size, 0, 64u);
        for (k = 0; k < nmut; k++) {
            uint32_t span = below(4) == 0 ? (uint32_t)size : meta_end; /* mostly header and tables */
            uint32_t pos = below(span);
            switch (below(6)) {
            case 0: /* bit flips */
                buf[pos] ^= (uint8_t)(1u << below(8));
                break;
            case 1: /* random byte */
                buf[pos] = (uint8_t)rnd();
                break;
            case 2: /* u32 field overwrite (4-aligned: all fields are) */
                pos &= ~3u;
                if (pos + 4u <= size)
                    wr32(buf + pos, interesting((uint32_t)size));
                break;
            case 3: /* header field */
                wr32(buf + 4u * below(24), interesting((uint32_t)size));
                break;
            case 4: /* truncate */
                len = below((uint32_t)size + 1u);
                break;
            default: /* grow or shrink total_size, maybe with extra bytes */
                wr32(buf + 12, rd32(buf + 12) + 16u * (below(5) - 2u));
                if (below(2))
                    len = size + 16u * below(4);
                break;
            }
        }
        if (fix && len >= 16u) {
            uint32_t total = rd32(buf + 12);
            if (total >= 12u && total <= len)
                wr32(buf + 8, be_crc32(0u, buf + 12, total - 12u));
        }
        exact = malloc(len ? len : 1u); /* exactly len bytes: ASan sees any overread */
        if (exact == NULL)
            return 2;
        memcpy(exact, buf, len);
        free(buf);
        st = be_model_init(model, exact, len);
        hist[st < 16 ? st : 15]++;
        if (st == BE_OK && be_model_arena_size(model) <= (1u << 20) && be_model_input_bytes(model) <= (1u << 20)) {
            size_t asz = be_model_arena_size(model), ib = be_model_input_bytes(model), i;
            uint32_t classes = be_model_class_count(model);
            void *mem = NULL;
            uint8_t *arena, *input = malloc(ib);
            int32_t *scores = malloc(sizeof(int32_t) * classes);
            if (posix_memalign(&mem, 16, asz ? asz : 16u) != 0 || input == NULL || scores == NULL)
                return 2;
            arena = (uint8_t *)mem;
            for (i = 0; i < ib; i++)
                input[i] = (uint8_t)rnd();
            if (be_prepare(interp, model, arena, asz, NULL) == BE_OK) {
                (void)be_invoke(interp, input, scores);
                invoked++;
            }
            if (asz > 0u && be_prepare(interp, model, arena, asz - 1u, NULL) != BE_ERR_ARENA_TOO_SMALL) {
                fprintf(stderr, "an arena one byte too small was accepted\n");
                abort();
            }
            free(arena);
            free(input);
            free(scores);
        }
        free(exact);
    }
    printf("fuzz_loader: %lu mutations, %lu invoked;", iters, invoked);
    for (it = 0; it < 16u; it++)
        if (hist[it])
            printf(" %s=%lu", it == 0 ? "OK" : be_status_str((be_status)it), hist[it]);
    printf("\n");
    free(orig);
    free(model);
    free(interp);
    return 0;
}

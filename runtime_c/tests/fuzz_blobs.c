/* fuzz_blobs.c -- structural fuzzing of the loader AND every kernel variant (docs/fuzzing.md).
 *
 *   build/fuzz_blobs [-n BLOBS] [-s SEED] [-w DIR] [-q] SEED.bnm...
 *
 * Built with -fsanitize=address,undefined -fno-sanitize-recover=all (`make fuzz`): any read or
 * write out of bounds, misaligned access or signed overflow aborts the run. Each of the BLOBS
 * iterations takes one of the seed blobs and applies 1-3 structural mutations:
 *
 *   field, geometry, data, dag, flips, size (tests/be_mutate.h says what each one does; data
 *   mutations mostly keep a blob valid, so the variants run on new numbers)
 *
 * The CRC is recomputed for most of them (else the loader stops at the CRC). The blob is then
 * placed in memory at a 16-byte aligned address, at +1 / +4 / +8, or so that it ends at a page
 * whose successor is unmapped (PROT_NONE), and loaded. Every accepted blob is prepared with an
 * arena of exactly the size it asks for and invoked on two inputs (random and extreme bytes),
 * placed at an odd address or against the guard page (a recurrent model: 4 successive steps from
 * the zero state, the character id changed between them), with the reference kernels ("ref"),
 * automatic dispatch and every variant of the kernel table this CPU runs; every run must return
 * the reference's status and scores exactly. Mismatches are printed (and written to DIR with
 * -w); the exit status is 1 if there was any, 2 on a usage error.
 */
#define _DEFAULT_SOURCE /* mmap, posix_memalign */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "be_mutate.h"
#include "binedge.h"

#define MAX_SEEDS 64
#define MAX_VARIANTS 16
#define BIG (64u << 20) /* arenas / inputs beyond this are not run (the loader accepted them) */

/* ------------------------------------------------------------------------------ placement */

/* Memory for a buffer of n bytes placed as asked: at page end (followed by an unmapped page) or
 * at `shift` bytes past a 16-byte boundary inside a heap block of exactly the bytes used. */
typedef struct placed {
    uint8_t *p;    /* where the bytes go */
    void *base;    /* what to free / unmap */
    size_t map_len;
} placed;

static int place(placed *pl, size_t n, int at_page_end, size_t shift)
{
    memset(pl, 0, sizeof *pl);
    if (at_page_end) {
        const size_t page = (size_t)sysconf(_SC_PAGESIZE);
        const size_t pages = (n + page - 1u) / page + 1u;
        uint8_t *m = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return 0;
        if (mprotect(m + (pages - 1u) * page, page, PROT_NONE) != 0)
            return 0;
        pl->base = m;
        pl->map_len = pages * page;
        pl->p = m + (pages - 1u) * page - n;
        return 1;
    }
    if (posix_memalign(&pl->base, 16u, n + shift > 0u ? n + shift : 1u) != 0)
        return 0;
    pl->p = (uint8_t *)pl->base + shift;
    return 1;
}

static void unplace(placed *pl)
{
    if (pl->map_len)
        munmap(pl->base, pl->map_len);
    else
        free(pl->base);
}

/* ------------------------------------------------------------------------------ variants */

static const char *variants[MAX_VARIANTS];
static size_t n_variants;

static void collect_variants(void)
{
    const uint32_t isa = be_isa_detect();
    size_t i, j;
    variants[n_variants++] = "auto";
    for (i = 0; i < be_kernel_count(); i++) {
        uint32_t need = 0u;
        const char *name = be_kernel_info(i, NULL, &need);
        if ((need & ~isa) != 0u || strcmp(name, "ref") == 0)
            continue;
        for (j = 0; j < n_variants && strcmp(variants[j], name) != 0; j++)
            ;
        if (j == n_variants && n_variants < MAX_VARIANTS)
            variants[n_variants++] = name;
    }
}

/* ------------------------------------------------------------------------------ running */

static const char *const kind_names[M_KINDS] = {"field", "geometry", "data", "dag", "flips", "size"};

typedef struct stats {
    unsigned long blobs, accepted, invoked, big, runs, mismatches, status[16];
    unsigned long made[M_KINDS], kept[M_KINDS]; /* blobs with a mutation of each kind; accepted ones */
} stats;

static const char *save_dir;

static void save(const blob_buf *x, unsigned long it)
{
    char path[4096];
    FILE *f;
    if (save_dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/mismatch-%lu.bnm", save_dir, it);
    f = fopen(path, "wb");
    if (f != NULL) {
        fwrite(x->b, 1, x->len, f);
        fclose(f);
        fprintf(stderr, "  written to %s\n", path);
    }
}

/* The scores of `steps` invokes from a fresh be_prepare (a recurrent model: successive time steps,
 * the input's first byte, a character id, changed between them; scores and statuses of every
 * step kept). */
#define MAX_STEPS 4u

static void run_steps(be_interpreter *it, uint8_t *in, int32_t *scores, uint32_t classes, unsigned steps,
                      be_status *status)
{
    const uint8_t first = in[0];
    unsigned t;
    for (t = 0; t < steps; t++) {
        in[0] = (uint8_t)(first + 3u * t);
        status[t] = be_invoke(it, in, scores + (size_t)t * classes);
    }
    in[0] = first;
}

/* Run one accepted model: ref first, then auto and every variant; compare status and scores. */
static void run_model(const be_model *m, const blob_buf *x, unsigned long it, stats *st)
{
    const size_t asz = be_model_arena_size(m), ib = be_model_input_bytes(m);
    const uint32_t classes = be_model_class_count(m);
    const unsigned steps = be_model_is_recurrent(m) ? MAX_STEPS : 1u; /* the LSTM state carried */
    be_status sr[MAX_STEPS], sv[MAX_STEPS];
    be_interpreter interp;
    be_options opt;
    int32_t *ref = NULL, *got = NULL;
    placed arena, input;
    unsigned k;
    size_t v, i;
    int bad = 0;

    if (asz > BIG || ib > BIG || classes == 0u) {
        st->big++;
        return;
    }
    ref = malloc(sizeof(int32_t) * classes * steps);
    got = malloc(sizeof(int32_t) * classes * steps);
    if (ref == NULL || got == NULL || !place(&arena, asz, 0, 0u)) {
        fprintf(stderr, "fuzz_blobs: out of memory\n");
        exit(2);
    }
    for (k = 0; k < 2u && !bad; k++) {
        /* the input: an odd address, or ending against an unmapped page */
        if (!place(&input, ib, below(3) == 0, below(3) == 0 ? 0u : 1u + below(3))) {
            fprintf(stderr, "fuzz_blobs: out of memory\n");
            exit(2);
        }
        for (i = 0; i < ib; i++)
            input.p[i] = k == 0u ? (uint8_t)rnd() : (uint8_t)(below(3) == 0 ? rnd() : (below(2) ? 255u : 0u));
        if (steps > 1u && k == 0u)
            input.p[0] %= 8u; /* character ids mostly within small vocabularies too */
        be_options_default(&opt);
        opt.kernel = "ref";
        if (be_prepare(&interp, m, arena.p, asz, &opt) != BE_OK) {
            fprintf(stderr, "blob %lu: be_prepare(ref) failed on an accepted model\n", it);
            bad = 1;
        } else {
            run_steps(&interp, input.p, ref, classes, steps, sr);
            st->invoked++;
            for (v = 0; v < n_variants && !bad; v++) {
                unsigned t;
                opt.kernel = variants[v];
                if (be_prepare(&interp, m, arena.p, asz, &opt) != BE_OK) {
                    fprintf(stderr, "blob %lu: be_prepare(%s) failed\n", it, variants[v]);
                    bad = 1;
                    break;
                }
                memset(got, 0x5A, sizeof(int32_t) * classes * steps);
                run_steps(&interp, input.p, got, classes, steps, sv);
                st->runs++;
                for (t = 0; t < steps && !bad; t++) {
                    const int32_t *g = got + (size_t)t * classes, *r = ref + (size_t)t * classes;
                    if (sv[t] != sr[t] || (sv[t] == BE_OK && memcmp(g, r, sizeof(int32_t) * classes) != 0)) {
                        uint32_t c;
                        fprintf(stderr, "blob %lu: variant %s differs from ref at step %u (status %d vs %d)\n", it,
                                variants[v], t, (int)sv[t], (int)sr[t]);
                        for (c = 0; c < classes && c < 8u; c++)
                            fprintf(stderr, "  score %u: %ld vs %ld\n", (unsigned)c, (long)g[c], (long)r[c]);
                        bad = 1;
                    }
                }
            }
        }
        unplace(&input);
    }
    if (asz > 0u && be_prepare(&interp, m, arena.p, asz - 1u, NULL) != BE_ERR_ARENA_TOO_SMALL) {
        fprintf(stderr, "blob %lu: an arena one byte too small was accepted\n", it);
        bad = 1;
    }
    if (bad) {
        st->mismatches++;
        save(x, it);
    }
    unplace(&arena);
    free(ref);
    free(got);
}

static int read_file(const char *path, blob_buf *out)
{
    FILE *f = fopen(path, "rb");
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < (long)HEADER || fseek(f, 0, SEEK_SET) != 0) {
        if (f)
            fclose(f);
        return 0;
    }
    out->len = (size_t)n;
    out->cap = out->len;
    out->b = malloc(out->len);
    if (out->b == NULL || fread(out->b, 1, out->len, f) != out->len) {
        free(out->b);
        out->b = NULL;
        fclose(f);
        return 0;
    }
    fclose(f);
    return 1;
}

int main(int argc, char **argv)
{
    blob_buf seeds[MAX_SEEDS];
    size_t n_seeds = 0;
    unsigned long iters = 20000, it;
    int quiet = 0, a, rc = 2; /* every exit goes through `done`, which frees what was allocated */
    be_model *model = malloc(sizeof *model);
    stats st;

    memset(&st, 0, sizeof st);
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-n") == 0 && a + 1 < argc) {
            iters = strtoul(argv[++a], NULL, 10);
        } else if (strcmp(argv[a], "-s") == 0 && a + 1 < argc) {
            be_mut_seed(strtoull(argv[++a], NULL, 10));
        } else if (strcmp(argv[a], "-w") == 0 && a + 1 < argc) {
            save_dir = argv[++a];
        } else if (strcmp(argv[a], "-q") == 0) {
            quiet = 1;
        } else if (argv[a][0] == '-' || n_seeds == MAX_SEEDS) {
            fprintf(stderr, "usage: %s [-n BLOBS] [-s SEED] [-w DIR] [-q] SEED.bnm... (at most %d seeds)\n", argv[0],
                    MAX_SEEDS);
            goto done;
        } else if (!read_file(argv[a], &seeds[n_seeds])) {
            fprintf(stderr, "fuzz_blobs: cannot read %s\n", argv[a]);
            goto done;
        } else if (model == NULL || be_model_init(model, seeds[n_seeds].b, seeds[n_seeds].len) != BE_OK) {
            fprintf(stderr, "fuzz_blobs: the seed %s does not load unmutated\n", argv[a]);
            n_seeds++; /* read: freed at `done` */
            goto done;
        } else {
            n_seeds++;
        }
    }
    if (n_seeds == 0u || model == NULL) {
        fprintf(stderr, "usage: %s [-n BLOBS] [-s SEED] [-w DIR] [-q] SEED.bnm...\n", argv[0]);
        goto done;
    }
    collect_variants();

    for (it = 0; it < iters; it++) {
        const blob_buf *seed = &seeds[below((uint32_t)n_seeds)];
        blob_buf x;
        placed pl;
        uint32_t k, where, kinds;
        be_status s;

        x.cap = seed->len + 64u;
        x.len = seed->len;
        x.b = malloc(x.cap);
        if (x.b == NULL) {
            fprintf(stderr, "fuzz_blobs: out of memory\n");
            goto done;
        }
        memcpy(x.b, seed->b, seed->len);
        memset(x.b + seed->len, 0, 64u);
        kinds = be_mutate(&x);

        /* placement: 16-aligned, +1 / +4 / +8, or ending at a page followed by an unmapped one */
        where = below(6);
        if (!place(&pl, x.len, where == 5u, where == 1u ? 1u : where == 2u ? 4u : where == 3u ? 8u : 0u)) {
            fprintf(stderr, "fuzz_blobs: out of memory\n");
            free(x.b);
            goto done;
        }
        if (x.len)
            memcpy(pl.p, x.b, x.len);
        s = be_model_init(model, pl.p, x.len);
        st.blobs++;
        st.status[(unsigned)s < 16u ? (unsigned)s : 15u]++;
        for (k = 0; k < M_KINDS; k++) {
            st.made[k] += (kinds >> k) & 1u;
            st.kept[k] += s == BE_OK ? (kinds >> k) & 1u : 0u;
        }
        if (s == BE_OK) {
            st.accepted++;
            run_model(model, &x, it, &st);
        }
        unplace(&pl);
        free(x.b);
    }

    printf("fuzz_blobs: %lu blobs, %lu accepted, %lu invoked, %lu variant runs (%lu too big to run), "
           "%lu mismatches; variants:", st.blobs, st.accepted, st.invoked, st.runs, st.big, st.mismatches);
    for (it = 0; it < n_variants; it++)
        printf(" %s", variants[it]);
    printf("\n");
    printf("mutations (blobs with one / accepted):");
    for (it = 0; it < M_KINDS; it++)
        printf(" %s %lu/%lu", kind_names[it], st.made[it], st.kept[it]);
    printf("\n");
    if (!quiet) {
        printf("statuses:");
        for (it = 0; it < 16u; it++)
            if (st.status[it])
                printf(" %s=%lu", it == 0u ? "OK" : be_status_str((be_status)it), st.status[it]);
        printf("\n");
    }
    rc = st.mismatches ? 1 : 0;
done:
    for (it = 0; it < n_seeds; it++)
        free(seeds[it].b);
    free(model);
    return rc;
}

/* be_test.h -- a minimal test harness for the C unit tests (tests may use globals; the runtime may not). */
#ifndef BE_TEST_H
#define BE_TEST_H

#include <stdio.h>

static int be_test_checks, be_test_failures;

#define CHECK(cond)                                                                                     \
    do {                                                                                                \
        be_test_checks++;                                                                               \
        if (!(cond)) {                                                                                  \
            be_test_failures++;                                                                         \
            printf("%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                             \
        }                                                                                               \
    } while (0)

#define CHECK_EQ(a, b)                                                                                  \
    do {                                                                                                \
        long long be_a_ = (long long)(a), be_b_ = (long long)(b);                                       \
        be_test_checks++;                                                                               \
        if (be_a_ != be_b_) {                                                                           \
            be_test_failures++;                                                                         \
            printf("%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", __FILE__, __LINE__, #a, be_a_, #b, \
                   be_b_);                                                                              \
        }                                                                                               \
    } while (0)

static int be_test_report(const char *name)
{
    printf("%s: %d checks, %d failures\n", name, be_test_checks, be_test_failures);
    return be_test_failures != 0;
}

#endif /* BE_TEST_H */

/* Pointer chasing over a large array: one random cycle through N slots, so every
 * load depends on the one before and most miss the caches (and a guest's TLB).
 * Prints the number of steps per second of its own CPU time. Built static with
 * Debian's riscv64 cross GCC by resources/bench/cpu-bench.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t state = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], 0, 0) : (4u << 20);
    uint64_t steps = argc > 2 ? strtoull(argv[2], 0, 0) : 20000000ull;
    uint32_t *next_slot = malloc(n * sizeof *next_slot);
    uint32_t *order = malloc(n * sizeof *order);
    if (!next_slot || !order)
        return 1;
    /* Sattolo's shuffle: a single cycle through every slot. */
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = next() % i;
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        next_slot[order[i]] = order[(i + 1) % n];
    double start = now();
    uint32_t at = 0;
    for (uint64_t s = 0; s < steps; s++)
        at = next_slot[at];
    double seconds = now() - start;
    printf("BENCH chase slots=%zu steps=%llu seconds=%.3f end=%u\n", n,
           (unsigned long long)steps, seconds, at);
    return 0;
}

/* base.c: assertion failure reporting and the COVER site registry.
 *
 * assert_fail prints the failed condition and, through the context printer the host installed
 * (the simulator prints the seed, node and virtual time), how to reproduce it, then aborts. */
#include "base.h"

#include <stdio.h>
#include <stdlib.h>

static void (*assert_context_printer)(void);

void assert_set_context_printer(void (*printer)(void)) { assert_context_printer = printer; }

void assert_fail(const char *condition, const char *file, int line)
{
    fprintf(stderr, "assertion failed: %s\n  at %s:%d\n", condition, file, line);
    if (assert_context_printer != NULL) assert_context_printer();
    fflush(stderr);
    abort();
}

/* The linker defines these for the "cover_sites" section because its name is a C identifier.
 * A binary without any COVER site still links thanks to the weak attribute. */
extern struct cover_site __start_cover_sites[] __attribute__((weak));
extern struct cover_site __stop_cover_sites[] __attribute__((weak));

u32 cover_site_count(void)
{
    if (__start_cover_sites == NULL) return 0;
    return (u32)(__stop_cover_sites - __start_cover_sites);
}

const struct cover_site *cover_site_get(u32 index)
{
    ASSERT(index < cover_site_count());
    return &__start_cover_sites[index];
}

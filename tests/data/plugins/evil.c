/*
 * A kpid parser plugin that misbehaves on purpose, built by the crash-containment tests with
 * `cc -shared -fPIC`. Lines are `key=value` words; each line yields `evil_n` (int, its value)
 * and `evil_line` (the line, a slice of it). A line starting with a trigger word does harm:
 *
 *   segv      writes through a null pointer           abort   calls abort()
 *   loop      spins forever                           leak    keeps 8 MiB (touched) per line
 *   hugekey   a key of 100,000 bytes                  hugeval a value of 8 MiB (heap)
 *   many      10,000 fields                           oob     a value 64 bytes past the line
 *
 * -DEVIL_VERSION='"2.0"' builds another version (another file, for the quarantine test).
 * Everything else parses normally, so the tests can see that the lines around a bad one
 * still count.
 */
#include "kpid_plugin.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#ifndef EVIL_VERSION
#define EVIL_VERSION "1.0"
#endif

static int32_t evil_create(const char *options, size_t len, void **state, char *err,
                           size_t err_cap) {
    (void)options;
    (void)len;
    (void)err;
    (void)err_cap;
    *state = NULL;
    return KPID_OK;
}

static int starts(const char *line, size_t len, const char *word) {
    size_t n = strlen(word);
    return len >= n && memcmp(line, word, n) == 0;
}

static volatile int sink_hole;

static int32_t evil_parse(void *state, const char *line, size_t len,
                          const struct kpid_sink *sink) {
    (void)state;
    if (starts(line, len, "segv")) {
        volatile int *p = NULL;
        *p = 1;
    } else if (starts(line, len, "abort")) {
        abort();
    } else if (starts(line, len, "loop")) {
        for (;;) {
            sink_hole++;
        }
    } else if (starts(line, len, "leak")) {
        char *p = malloc(8u << 20);
        if (p) {
            memset(p, 1, 8u << 20);
        } else {
            /* What a careless C plugin does when malloc fails. */
            volatile char *q = NULL;
            *q = 1;
        }
    } else if (starts(line, len, "hugekey")) {
        char *k = malloc(100000);
        memset(k, 'k', 100000);
        sink->int_field(sink->ctx, k, 100000, 1);
        free(k);
    } else if (starts(line, len, "hugeval")) {
        char *v = malloc(8u << 20);
        memset(v, 'v', 8u << 20);
        sink->str_field(sink->ctx, "evil_big", 8, v, 8u << 20);
        free(v);
    } else if (starts(line, len, "many")) {
        for (int i = 0; i < 10000; i++) {
            sink->int_field(sink->ctx, "evil_many", 9, i);
        }
    } else if (starts(line, len, "oob")) {
        sink->str_field(sink->ctx, "evil_oob", 8, line + len, 64);
    }
    const char *eq = memchr(line, '=', len);
    int64_t n = 0;
    if (eq) {
        for (const char *c = eq + 1; c < line + len && *c >= '0' && *c <= '9'; c++) {
            n = n * 10 + (*c - '0');
        }
    }
    sink->int_field(sink->ctx, "evil_n", 6, n);
    sink->str_field(sink->ctx, "evil_line", 9, line, len);
    return KPID_OK;
}

static void evil_destroy(void *state) { (void)state; }

static const struct kpid_plugin table = {
    .abi_version = KPID_ABI_VERSION,
    .size = sizeof(struct kpid_plugin),
    .name = "evil",
    .version = EVIL_VERSION,
    .description = "misbehaves on trigger lines",
    .create = evil_create,
    .parse = evil_parse,
    .destroy = evil_destroy,
};

const struct kpid_plugin *kpid_plugin_entry(void) { return &table; }

/*
 * A kpid parser plugin in C, built by the tests with `cc -shared -fPIC`.
 *
 * Each line is words separated by a character (option `sep=C`, default space). Fields:
 * `words` (int, the count), `first` (the first word, a slice of the line), `w0` (the first
 * word's length, under a key built on the stack, so the host must copy it) and `version`
 * (WORDS_VERSION). An empty line is not matched; a line starting with `bad` is invalid.
 *
 * Test switches: -DWORDS_VERSION=N, -DABI=N (table ABI version), -DTABLE_SIZE=N, -DNAME='"x"',
 * -DNO_ENTRY (export no entry function), -DNULL_PARSE (table without parse).
 * With -DMARKER='"PATH"', the library's constructor creates the file PATH: the tests use it to
 * prove that refused libraries never ran any code.
 */
#include "kpid_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WORDS_VERSION
#define WORDS_VERSION 1
#endif
#ifndef ABI
#define ABI KPID_ABI_VERSION
#endif
#ifndef NAME
#define NAME "words"
#endif
#ifndef TABLE_SIZE
#define TABLE_SIZE sizeof(struct kpid_plugin)
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

#ifdef MARKER
__attribute__((constructor)) static void words_loaded(void) {
    FILE *f = fopen(MARKER, "a");
    if (f) {
        fputs("loaded\n", f);
        fclose(f);
    }
}
#endif

struct words {
    char sep;
};

static int32_t words_create(const char *options, size_t len, void **state, char *err,
                            size_t err_cap) {
    char sep = ' ';
    if (len == 5 && memcmp(options, "sep=", 4) == 0) {
        sep = options[4];
    } else if (len != 0) {
        snprintf(err, err_cap, "words: unknown option `%.*s` (known: sep=C)", (int)len, options);
        return KPID_INVALID;
    }
    struct words *w = malloc(sizeof *w);
    if (!w) {
        snprintf(err, err_cap, "words: out of memory");
        return KPID_INVALID;
    }
    w->sep = sep;
    *state = w;
    return KPID_OK;
}

__attribute__((unused)) static int32_t words_parse(void *state, const char *line, size_t len,
                           const struct kpid_sink *sink) {
    const struct words *w = state;
    if (len == 0) {
        return KPID_NO_MATCH;
    }
    if (len >= 3 && memcmp(line, "bad", 3) == 0) {
        static const char why[] = "words: line starts with bad";
        sink->error(sink->ctx, why, sizeof why - 1);
        return KPID_INVALID;
    }
    int64_t count = 1;
    size_t first = len;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == w->sep) {
            count++;
            if (first == len) {
                first = i;
            }
        }
    }
    char key[3] = {'w', '0', 0};
    sink->int_field(sink->ctx, "words", 5, count);
    sink->str_field(sink->ctx, "first", 5, line, first);
    sink->int_field(sink->ctx, key, 2, (int64_t)first);
    sink->int_field(sink->ctx, "version", 7, WORDS_VERSION);
    sink->level(sink->ctx, KPID_LEVEL_INFO);
    return KPID_OK;
}

static void words_destroy(void *state) { free(state); }

static const struct kpid_plugin table = {
    .abi_version = ABI,
    .size = TABLE_SIZE,
    .name = NAME,
    .version = STR(WORDS_VERSION) ".0",
    .description = "words separated by a character",
    .create = words_create,
#ifdef NULL_PARSE
    .parse = NULL,
#else
    .parse = words_parse,
#endif
    .destroy = words_destroy,
};

#ifndef NO_ENTRY
const struct kpid_plugin *kpid_plugin_entry(void) { return &table; }
#else
const struct kpid_plugin *words_table(void) { return &table; }
#endif

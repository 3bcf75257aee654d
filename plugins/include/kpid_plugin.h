/*
 * kpid_plugin.h: the C interface of kpid parser plugins (ABI version 1).
 *
 * A plugin is a shared library exporting one function:
 *
 *     const struct kpid_plugin *kpid_plugin_entry(void);
 *
 * returning a pointer to a static table. kpid checks the table's abi_version and size before
 * calling anything else, then calls create() once per source using the parser, parse() for
 * each line of that source, and destroy() when the source goes away. Plugins are never
 * unloaded, so pointers to the library's static data (string literals) stay valid forever.
 *
 * Threads: a state made by create() is used by one thread at a time but may move between
 * threads; create() may be called from several threads at once. Keep per-parser data in the
 * state, not in globals or thread-locals.
 *
 * See docs/plugins.md for a complete example. Mirrors kpid_plugin::abi (Rust).
 */
#ifndef KPID_PLUGIN_H
#define KPID_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KPID_ABI_VERSION 1u
#define KPID_ENTRY_SYMBOL "kpid_plugin_entry"

/* Status codes returned by create() and parse(). */
#define KPID_OK 0        /* success */
#define KPID_NO_MATCH 1  /* parse: the line is not in this format */
#define KPID_INVALID 2   /* bad options, or a line of this format with a bad value */
#define KPID_PANIC 3     /* the plugin failed internally (set by the Rust SDK on a panic) */

/* Levels for sink->level(). */
#define KPID_LEVEL_ERROR 1u
#define KPID_LEVEL_WARN 2u
#define KPID_LEVEL_INFO 3u
#define KPID_LEVEL_DEBUG 4u
#define KPID_LEVEL_TRACE 5u

/*
 * What parse() reports a line into. Valid only during the parse() call that received it.
 * Always call a callback as sink->cb(sink->ctx, ...).
 *
 * Keys and text are (pointer, length) pairs, not NUL-terminated. Pointers into the line and
 * into the library's read-only data (string literals) are kept without copying; anything else
 * (a buffer in the state, the stack) is copied before the callback returns.
 */
struct kpid_sink {
    uint32_t size;     /* sizeof(struct kpid_sink) as the host knows it */
    uint32_t reserved; /* zero */
    void *ctx;         /* pass back as the first argument of every callback */
    void (*int_field)(void *ctx, const char *key, size_t key_len, int64_t value);
    void (*float_field)(void *ctx, const char *key, size_t key_len, double value);
    void (*bool_field)(void *ctx, const char *key, size_t key_len, int32_t value);
    void (*str_field)(void *ctx, const char *key, size_t key_len, const char *value,
                      size_t value_len);
    void (*duration_field)(void *ctx, const char *key, size_t key_len, double seconds);
    void (*timestamp)(void *ctx, double unix_seconds);
    void (*level)(void *ctx, uint32_t level); /* KPID_LEVEL_*; other values are ignored */
    void (*target)(void *ctx, const char *text, size_t len);
    void (*message)(void *ctx, const char *text, size_t len);
    /* Why the line is rejected: call before returning KPID_INVALID. */
    void (*error)(void *ctx, const char *text, size_t len);
};

struct kpid_plugin {
    uint32_t abi_version;    /* KPID_ABI_VERSION */
    uint32_t size;           /* sizeof(struct kpid_plugin) */
    const char *name;        /* parser name in configuration: [A-Za-z0-9_.-]{1,64} */
    const char *version;     /* the plugin's own version, free text */
    const char *description; /* one line, or NULL */
    /*
     * Builds a parser from its options (UTF-8, not NUL-terminated, empty when none). Stores
     * the state (may be NULL) in *state and returns KPID_OK; otherwise writes a NUL-terminated
     * message of at most err_cap bytes into err and returns KPID_INVALID.
     */
    int32_t (*create)(const char *options, size_t options_len, void **state, char *err,
                      size_t err_cap);
    /* Parses one line (without its terminator). Returns a KPID_* status. */
    int32_t (*parse)(void *state, const char *line, size_t len, const struct kpid_sink *sink);
    /* Frees a state made by create(). */
    void (*destroy)(void *state);
};

/* The one symbol a plugin exports. */
const struct kpid_plugin *kpid_plugin_entry(void);

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof(struct kpid_plugin) == 56, "kpid_plugin layout");
_Static_assert(sizeof(struct kpid_sink) == 96, "kpid_sink layout");
#endif

#ifdef __cplusplus
}
#endif

#endif /* KPID_PLUGIN_H */

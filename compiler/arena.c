/* arena.c: the bump allocator that owns all compiler data of one
 * compilation. Nothing is freed piecemeal; arena_free releases everything.
 * Large requests get a block of their own so big weight buffers do not
 * waste a chunk's tail. Running out of memory jumps to the handler the API
 * entry point set (arena_on_oom), so a user's model that is too big for
 * the machine is an error, never an abort of the host program.
 */
#include <stdlib.h>
#include <string.h>

#include "base.h"

enum { ARENA_CHUNK = 64 * 1024, ARENA_ALIGN = 16 };

typedef struct Block Block;
struct Block {
    Block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

struct Arena {
    Block *head;
    size_t total, limit;   /* bytes in blocks; 0: no limit */
    jmp_buf *on_oom;
};

Arena *arena_new(void)
{
    return calloc(1, sizeof(Arena));
}

jmp_buf *arena_on_oom(Arena *a, jmp_buf *on_oom)
{
    jmp_buf *previous = a->on_oom;
    a->on_oom = on_oom;
    return previous;
}

void arena_set_limit(Arena *a, size_t max_bytes)
{
    a->limit = max_bytes;
}

void arena_free(Arena *a)
{
    if (!a)
        return;
    for (Block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

static Block *block_new(Arena *a, size_t size)
{
    int over = a->limit && (size > a->limit || a->total > a->limit - size);
    Block *b = over || size > ((size_t)-1) / 2 ? NULL : calloc(1, sizeof *b + size);
    if (!b) {
        if (a->on_oom)
            longjmp(*a->on_oom, 1);
        ICE("out of memory (%zu bytes)", size);
    }
    b->size = size;
    a->total += size;
    return b;
}

void *arena_alloc(Arena *a, size_t size)
{
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size == 0)
        size = ARENA_ALIGN;
    if (size > ARENA_CHUNK / 4) {            /* a block of its own, behind head */
        Block *b = block_new(a, size);
        b->used = size;
        if (a->head) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            a->head = b;
        }
        return b->data;
    }
    if (!a->head || a->head->size - a->head->used < size) {
        Block *b = block_new(a, ARENA_CHUNK);
        b->next = a->head;
        a->head = b;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += size;
    return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(Arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(a, (size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

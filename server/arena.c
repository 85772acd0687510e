/*
 * arena.c - one region per request thread for Jansson's allocations while
 * an infer request is decoded and answered.
 *
 * Jansson allocates a block for every value, key and container of a
 * request document and frees each again when the document goes: malloc
 * and free took a sixth of the instructions of a single-point request
 * (callgrind: 99k with them, 84k without).  Between arena_begin
 * and arena_end, Jansson's allocations on that thread come from the
 * thread's region by moving a pointer, freeing them costs nothing, and
 * arena_end empties the region at once.  An allocation that does not fit,
 * and every allocation outside arena_begin..arena_end, goes to malloc.
 *
 * Every region lies in one address range reserved at the first use, so a
 * free on any thread tells a region's block from malloc's by its address
 * alone.  Nothing allocated between arena_begin and arena_end may be used
 * after arena_end; under AddressSanitizer an emptied region is poisoned,
 * and blocks are kept apart by poisoned gaps, so that such a use, or an
 * overrun from one block into the next, is reported.
 */
#include "server_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif

#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define GAP 16 /* poisoned bytes after each block */
#else
#define ASAN_POISON_MEMORY_REGION(p, n)   ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define GAP                               0
#endif

#define SLOTS     64         /* threads that may hold a region at once */
#define SLOT_SIZE (4u << 20) /* one region: a 4096-point batch takes 1 MiB */
#define ALIGN     16         /* as malloc's blocks */

/* One thread's region. */
struct region {
    char *base;
    size_t used;
    int active; /* between arena_begin and arena_end */
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *range; /* SLOTS regions, or NULL when none could be reserved */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char taken[SLOTS];
static pthread_key_t owner; /* gives a region back when its thread ends */
static _Thread_local struct region *mine;

static int in_range(const void *p)
{
    return range && (const char *)p >= range &&
           (const char *)p < range + (size_t)SLOTS * SLOT_SIZE;
}

static void *arena_malloc(size_t size)
{
    struct region *r = mine;
    size_t need = (size + GAP + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    char *p;

    if (!r || !r->active || need < size || SLOT_SIZE - r->used < need)
        return malloc(size);
    p = r->base + r->used;
    r->used += need;
    ASAN_UNPOISON_MEMORY_REGION(p, size);
    return p;
}

static void arena_free(void *p)
{
    if (!in_range(p))
        free(p);
}

static void give_back(void *arg)
{
    struct region *r = arg;

    pthread_mutex_lock(&slots_lock);
    taken[(size_t)(r->base - range) / SLOT_SIZE] = 0;
    pthread_mutex_unlock(&slots_lock);
    free(r);
}

/* Reserve the address range (pages are only made when touched) and hand
 * Jansson the allocator.  Allocations made with malloc before this are
 * still freed with free. */
static void setup(void)
{
    void *p = mmap(NULL, (size_t)SLOTS * SLOT_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (p == MAP_FAILED || pthread_key_create(&owner, give_back) != 0) {
        tb_warn("arena: cannot reserve %u MiB of address space; requests "
                "allocate with malloc",
                SLOTS * (SLOT_SIZE >> 20));
        if (p != MAP_FAILED)
            munmap(p, (size_t)SLOTS * SLOT_SIZE);
        return;
    }
    range = p;
    ASAN_POISON_MEMORY_REGION(range, (size_t)SLOTS * SLOT_SIZE);
    json_set_alloc_funcs(arena_malloc, arena_free);
}

/* Install the allocator; tb_server_start calls it before any request
 * thread exists.  Safe to call more than once. */
void arena_init(void)
{
    pthread_once(&once, setup);
}

/* This thread's region, claimed at its first request; NULL when every
 * slot is taken (its requests then use malloc). */
static struct region *claim(void)
{
    struct region *r;
    size_t i = 0;

    pthread_mutex_lock(&slots_lock);
    while (i < SLOTS && taken[i])
        i++;
    if (i < SLOTS)
        taken[i] = 1;
    pthread_mutex_unlock(&slots_lock);
    if (i == SLOTS)
        return NULL;

    r = calloc(1, sizeof(*r));
    if (r)
        r->base = range + i * SLOT_SIZE;
    if (!r || pthread_setspecific(owner, r) != 0) {
        pthread_mutex_lock(&slots_lock);
        taken[i] = 0;
        pthread_mutex_unlock(&slots_lock);
        free(r);
        return NULL;
    }
    return r;
}

/* From here until arena_end, this thread's Jansson allocations come from
 * its region. */
void arena_begin(void)
{
    arena_init();
    if (!range)
        return;
    if (!mine)
        mine = claim();
    if (mine)
        mine->active = 1;
}

/* Empty this thread's region: everything Jansson allocated since
 * arena_begin is gone. */
void arena_end(void)
{
    struct region *r = mine;

    if (!r)
        return;
    ASAN_POISON_MEMORY_REGION(r->base, r->used);
    r->used = 0;
    r->active = 0;
}

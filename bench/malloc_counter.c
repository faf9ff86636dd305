// Counts heap allocations of the process it is preloaded into (LD_PRELOAD), for meshctl-bench's
// "allocations per keep-alive request" row: every allocating entry point of glibc's malloc is wrapped, the
// count is read through meshbench_allocations() (found with dlsym). free is not wrapped.
// A process that knows nothing of the counter (`meshctl proxy`) is read from outside: with MALLOC_COUNTER_REPORT
// set to a path, each SIGUSR2 writes `SEQUENCE COUNT\n` there (a new file renamed into place, so a reader never
// sees half of one).
#include <stddef.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static atomic_ulong allocations;

static inline void count(void) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); }

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t number, size_t size) { count(); return __libc_calloc(number, size); }
void *realloc(void *pointer, size_t size) { count(); return __libc_realloc(pointer, size); }
void *memalign(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }

int posix_memalign(void **out, size_t alignment, size_t size) {
    count();
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *out = pointer;
    return 0;
}

unsigned long meshbench_allocations(void) { return atomic_load_explicit(&allocations, memory_order_relaxed); }

static const char *report_path;
static char report_temporary[4096];
static unsigned long reports;

// Async-signal-safe: digits by hand, then open, write, close and rename.
static char *put_number(char *end, unsigned long value) {
    do { *--end = (char)('0' + value % 10); value /= 10; } while (value);
    return end;
}

static void report(int signal_number) {
    (void)signal_number;
    int saved = errno;
    char text[64];
    char *end = text + sizeof text;
    *--end = '\n';
    char *start = put_number(end, atomic_load_explicit(&allocations, memory_order_relaxed));
    *--start = ' ';
    start = put_number(start, ++reports);
    int fd = open(report_temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t written = write(fd, start, (size_t)(text + sizeof text - start));
        (void)written;
        close(fd);
        rename(report_temporary, report_path);
    }
    errno = saved;
}

__attribute__((constructor)) static void install_report(void) {
    report_path = getenv("MALLOC_COUNTER_REPORT");
    if (report_path == NULL || strlen(report_path) + 5 >= sizeof report_temporary) { report_path = NULL; return; }
    strcpy(report_temporary, report_path);
    strcat(report_temporary, ".tmp");
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = report;
    action.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &action, NULL);
}

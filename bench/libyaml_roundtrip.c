/* libyaml's own parse+emit rate on a file: every event the parser yields goes straight to the emitter,
 * whose output is collected in memory. meshctl-bench runs this beside meshctl's YAML layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

struct sink { size_t bytes; };

static int write_handler(void *data, unsigned char *buffer, size_t size) {
    ((struct sink *)data)->bytes += size;
    (void)buffer;
    return 1;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s FILE RUNS\n", argv[0]); return 64; }
    FILE *file = fopen(argv[1], "rb");
    if (!file) { perror(argv[1]); return 1; }
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    unsigned char *input = malloc(length);
    if (fread(input, 1, length, file) != (size_t)length) { perror("read"); return 1; }
    fclose(file);
    int runs = atoi(argv[2]);
    double best = 1e9;
    for (int run = 0; run < runs; run++) {
        double start = now();
        yaml_parser_t parser;
        yaml_emitter_t emitter;
        struct sink sink = {0};
        yaml_parser_initialize(&parser);
        yaml_parser_set_input_string(&parser, input, length);
        yaml_emitter_initialize(&emitter);
        yaml_emitter_set_output(&emitter, write_handler, &sink);
        yaml_emitter_set_unicode(&emitter, 1);
        int done = 0;
        while (!done) {
            yaml_event_t event;
            if (!yaml_parser_parse(&parser, &event)) { fprintf(stderr, "parse error: %s\n", parser.problem); return 1; }
            done = event.type == YAML_STREAM_END_EVENT;
            if (!yaml_emitter_emit(&emitter, &event)) { fprintf(stderr, "emit error: %s\n", emitter.problem); return 1; }
        }
        yaml_parser_delete(&parser);
        yaml_emitter_delete(&emitter);
        double elapsed = now() - start;
        if (elapsed < best) best = elapsed;
    }
    /* One line: the best time in seconds and the input size in bytes. */
    printf("%.6f %ld\n", best, length);
    return 0;
}

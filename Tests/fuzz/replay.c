/* Replays a corpus through one fuzz target without libFuzzer: links against the
 * packaging build of libmuflow.so and calls LLVMFuzzerTestOneInput once per file.
 * Arguments are files or directories (each file directly inside is read). A broken
 * property aborts in the target; a clean run prints how many inputs it fed. */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_target.h"

#include <dirent.h>
#include <sys/stat.h>

static size_t replayed = 0;

static void replay_file(const char *path) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        perror(path);
        exit(2);
    }
    size_t capacity = 4096, size = 0;
    uint8_t *data = malloc(capacity);
    size_t got;
    while (data != NULL && (got = fread(data + size, 1, capacity - size, file)) > 0) {
        size += got;
        if (size == capacity) data = realloc(data, capacity *= 2);
    }
    if (data == NULL || ferror(file)) {
        fprintf(stderr, "%s: cannot read\n", path);
        exit(2);
    }
    fclose(file);
    /* libFuzzer hands the target a buffer of exactly the input's size; so does this. */
    uint8_t *exact = malloc(size > 0 ? size : 1);
    if (exact == NULL) exit(2);
    memcpy(exact, data, size);
    free(data);
    LLVMFuzzerTestOneInput(exact, size);
    free(exact);
    replayed++;
}

static int is_directory(const char *path) {
    struct stat info;
    if (stat(path, &info) != 0) {
        perror(path);
        exit(2);
    }
    return S_ISDIR(info.st_mode);
}

static void replay_directory(const char *path) {
    DIR *dir = opendir(path);
    if (dir == NULL) {
        perror(path);
        exit(2);
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        size_t length = strlen(path) + strlen(entry->d_name) + 2;
        char *child = malloc(length);
        if (child == NULL) exit(2);
        snprintf(child, length, "%s/%s", path, entry->d_name);
        if (!is_directory(child)) replay_file(child);
        free(child);
    }
    closedir(dir);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (is_directory(argv[i]))
            replay_directory(argv[i]);
        else
            replay_file(argv[i]);
    }
    if (replayed == 0) {
        fprintf(stderr, "no input found in the corpus\n");
        return 1;
    }
    printf("replayed %zu inputs\n", replayed);
    return 0;
}

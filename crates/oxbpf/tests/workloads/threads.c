// A multi-threaded workload: THREADS threads each open the file given as argument once
// (the main thread only waits for them); exits with 5.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#define THREADS 3

static const char *path;

static void *worker(void *arg) {
    (void)arg;
    int fd = open(path, O_RDONLY);
    if (fd >= 0)
        close(fd);
    return 0;
}

int main(int argc, char **argv) {
    pthread_t t[THREADS];
    if (argc < 2)
        return 2;
    path = argv[1];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], 0, worker, 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], 0);
    return 5;
}

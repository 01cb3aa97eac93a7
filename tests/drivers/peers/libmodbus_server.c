/* A Modbus/TCP server built on Debian's libmodbus: a peer we did not design.
 *
 * usage: libmodbus_server PORT [CHANGING]
 * Serves 10000 holding and input registers (value = address) and 2000 coils and
 * discrete inputs (value = address % 2) to any number of clients (select loop, as in
 * libmodbus' own examples). Addresses at or above the tables' sizes answer exception 2.
 * With CHANGING = n > 0, input registers 0..n-1 count up by one after every request, so
 * a poller sees new values on every read of them (holding registers stay as they are).
 * Prints "READY" once listening; exits on SIGTERM/SIGINT.
 */
#include <errno.h>
#include <modbus.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define REGISTERS 10000
#define BITS 2000

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int changing = argc > 2 ? atoi(argv[2]) : 0;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", atoi(argv[1]));
    modbus_mapping_t *map = modbus_mapping_new(BITS, BITS, REGISTERS, REGISTERS);
    if (ctx == NULL || map == NULL) {
        fprintf(stderr, "libmodbus: %s\n", modbus_strerror(errno));
        return 1;
    }
    for (int i = 0; i < REGISTERS; i++) {
        map->tab_registers[i] = (uint16_t)i;
        map->tab_input_registers[i] = (uint16_t)i;
    }
    for (int i = 0; i < BITS; i++) {
        map->tab_bits[i] = (uint8_t)(i % 2);
        map->tab_input_bits[i] = (uint8_t)(i % 2);
    }
    int server = modbus_tcp_listen(ctx, 64);
    if (server == -1) {
        fprintf(stderr, "listen: %s\n", modbus_strerror(errno));
        return 1;
    }
    printf("READY\n");
    fflush(stdout);
    fd_set refset;
    FD_ZERO(&refset);
    FD_SET(server, &refset);
    int fdmax = server;
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    while (!stopping) {
        fd_set rdset = refset;
        if (select(fdmax + 1, &rdset, NULL, NULL, NULL) == -1) {
            if (errno == EINTR) continue;
            break;
        }
        for (int fd = 0; fd <= fdmax; fd++) {
            if (!FD_ISSET(fd, &rdset)) continue;
            if (fd == server) {
                int client = accept(server, NULL, NULL);
                if (client != -1) {
                    FD_SET(client, &refset);
                    if (client > fdmax) fdmax = client;
                }
                continue;
            }
            modbus_set_socket(ctx, fd);
            int rc = modbus_receive(ctx, query);
            if (rc > 0) {
                modbus_reply(ctx, query, rc, map);
                for (int i = 0; i < changing && i < REGISTERS; i++) {
                    map->tab_input_registers[i]++;
                }
            } else if (rc == -1) {
                close(fd);
                FD_CLR(fd, &refset);
            }
        }
    }
    close(server);
    modbus_mapping_free(map);
    modbus_free(ctx);
    return 0;
}

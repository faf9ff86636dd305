/* OpenSSL's own handshake rate in memory: a client and a server SSL on one thread over memory BIOs, the same cases
 * and certificates as meshnet-bench's TLS rows (which run them through MeshNet's TLSEngine), so the ratio shows what
 * the Swift engine adds. Prints one line per case (or the one CASE named): NAME HANDSHAKES_PER_SECOND RESUMED_SHARE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL_SESSION *saved;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static char *path(const char *dir, const char *name) {
    static char buffer[4096];
    snprintf(buffer, sizeof buffer, "%s/%s", dir, name);
    return buffer;
}

static int keep_session(SSL *ssl, SSL_SESSION *session) {
    (void)ssl;
    if (saved) SSL_SESSION_free(saved);
    saved = session;
    return 1;
}

/* ALPN as the engine's default contexts do it: the client offers http/1.1, the server takes it. */
static const unsigned char protocols[] = "\x08http/1.1";

static int select_protocol(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    return SSL_select_next_proto((unsigned char **)out, outlen, protocols, sizeof protocols - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED
        ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK;
}

static SSL_CTX *server_context(const char *dir, int version, int tickets, int mutual) {
    SSL_CTX *context = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(context, version);
    SSL_CTX_set_max_proto_version(context, version);
    if (!tickets) SSL_CTX_set_options(context, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_id_context(context, (const unsigned char *)"bench", 5);
    SSL_CTX_set_alpn_select_cb(context, select_protocol, NULL);
    if (SSL_CTX_use_certificate_file(context, path(dir, "server.crt"), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(context, path(dir, "server.key"), SSL_FILETYPE_PEM) != 1) return NULL;
    if (mutual) {
        if (SSL_CTX_load_verify_locations(context, path(dir, "ca.crt"), NULL) != 1) return NULL;
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return context;
}

static SSL_CTX *client_context(const char *dir, int version, int mutual, int resume) {
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(context, version);
    SSL_CTX_set_max_proto_version(context, version);
    if (SSL_CTX_load_verify_locations(context, path(dir, "ca.crt"), NULL) != 1) return NULL;
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_alpn_protos(context, protocols, sizeof protocols - 1);
    if (mutual && (SSL_CTX_use_certificate_file(context, path(dir, "client.crt"), SSL_FILETYPE_PEM) != 1 ||
                   SSL_CTX_use_PrivateKey_file(context, path(dir, "client.key"), SSL_FILETYPE_PEM) != 1)) return NULL;
    if (resume) {
        SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(context, keep_session);
    }
    return context;
}

static void move(SSL *from, SSL *to) {
    char buffer[16384];
    int count;
    while ((count = BIO_read(SSL_get_wbio(from), buffer, sizeof buffer)) > 0) BIO_write(SSL_get_rbio(to), buffer, count);
}

/* One handshake; 1 when it resumed, 0 when full, -1 when it failed. */
static int connect_once(SSL_CTX *client_context, SSL_CTX *server_context) {
    SSL *client = SSL_new(client_context), *server = SSL_new(server_context);
    SSL_set_bio(client, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_bio(server, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    SSL_set_tlsext_host_name(client, "reviews.default.svc.cluster.local");
    if (saved) SSL_set_session(client, saved);
    for (int round = 0; round < 10; round++) {
        int client_done = SSL_do_handshake(client) == 1;
        move(client, server);
        int server_done = SSL_do_handshake(server) == 1;
        move(server, client);
        if (client_done && server_done) break;
    }
    char byte;
    SSL_read(client, &byte, 1); /* takes TLS 1.3 tickets */
    int result = SSL_is_init_finished(client) && SSL_is_init_finished(server) ? SSL_session_reused(client) : -1;
    /* As the Swift engine does: a connection dropped without close_notify keeps its session resumable. */
    SSL_set_shutdown(client, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_set_shutdown(server, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(client);
    SSL_free(server);
    ERR_clear_error();
    return result;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) { fprintf(stderr, "usage: %s DIR SECONDS [CASE]\n", argv[0]); return 64; }
    double seconds = atof(argv[2]);
    struct { const char *name; int version, resume, tickets, mutual; } cases[] = {
        {"full13", TLS1_3_VERSION, 0, 1, 0}, {"resumed13", TLS1_3_VERSION, 1, 1, 0}, {"mtls13", TLS1_3_VERSION, 0, 1, 1},
        {"full12", TLS1_2_VERSION, 0, 1, 0}, {"resumed12", TLS1_2_VERSION, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (argc == 4 && strcmp(argv[3], cases[i].name) != 0) continue;
        SSL_CTX *server = server_context(argv[1], cases[i].version, cases[i].tickets, cases[i].mutual);
        SSL_CTX *client = client_context(argv[1], cases[i].version, cases[i].mutual, cases[i].resume);
        if (!server || !client) { fprintf(stderr, "%s: cannot load the certificates in %s\n", cases[i].name, argv[1]); return 1; }
        if (saved) { SSL_SESSION_free(saved); saved = NULL; }
        if (connect_once(client, server) < 0) { fprintf(stderr, "%s: the handshake failed\n", cases[i].name); return 1; }
        long count = 0, resumed = 0;
        double start = now();
        while (now() - start < seconds) {
            for (int n = 0; n < 20; n++, count++) {
                int result = connect_once(client, server);
                if (result < 0) { fprintf(stderr, "%s: a handshake failed\n", cases[i].name); return 1; }
                resumed += result;
            }
        }
        printf("%s %.1f %.2f\n", cases[i].name, count / (now() - start), (double)resumed / count);
        SSL_CTX_free(client);
        SSL_CTX_free(server);
    }
    return 0;
}

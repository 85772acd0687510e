/*
 * test_server_client.h - what the server tests share: a captured log, a
 * small raw-socket HTTP/1.1 client to the server under test, JSON
 * expectations and small heat1d model files.
 */
#ifndef TB_TEST_SERVER_CLIENT_H
#define TB_TEST_SERVER_CLIENT_H

#include "model.h"
#include "server.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

extern int port;          /* the server under test */
extern char models[4096]; /* its models directory */

/* A log sink that keeps the records for log_has (and prints errors). */
void capture(int level, const char *line, void *data);
void log_reset(void);
int log_has(const char *what);

/* One HTTP answer. */
struct resp {
    int status;
    char head[4096];
    char *body; /* NUL-terminated; free with resp_free */
    size_t len;
};

void resp_free(struct resp *r);

/* A connected socket to the server (30 s receive timeout), or -1. */
int connect_local(void);

/* Send every byte; 0 or -1. */
int send_all(int fd, const char *p, size_t n);

/* Read until the server closes; split status, head and body. */
int read_response(int fd, struct resp *r);

/* Send raw request bytes on a fresh connection and read the answer. */
int http_raw(const char *req, size_t n, struct resp *r);

/* One request with an optional body ("Connection: close"). */
int http(const char *method, const char *path, const char *body,
         struct resp *r);

/* The response body as JSON (NULL when it is not JSON). */
json_t *body_json(const struct resp *r);

/* Request, expect a status and a JSON body, and return the body. */
json_t *call(const char *method, const char *path, const char *body, int want);

/* Expect an error answer: the status, {"error": "..."} and text in it. */
void expect_error(const char *method, const char *path, const char *body,
                  int want, const char *text);

/* Write a small heat1d model whose attributes name problem. */
int make_model(const char *path, const char *problem, uint64_t seed);

/* models/name, and a text file written there atomically. */
void model_path(char *out, size_t size, const char *name);
void write_file(const char *name, const char *text);

/* models/ with heat1d.h5 (seed 1, loaded into m) and mystery.h5. */
int make_models(tb_model *m);

/* The domain in a metadata answer matches the problem's axes. */
struct tb_problem;
void check_domain(json_t *dom, const struct tb_problem *p);

/* The data of the output tensor called name in an infer answer. */
json_t *output(json_t *j, const char *name);

#endif

/*
 * fuzz_request.c - libFuzzer target for the request decoders: the bytes
 * are an infer (v2) or plain predict (v1) body for a small heat1d-shaped
 * model, decoded, held to the domain, answered and encoded as a server
 * thread would.  Any crash, leak or sanitizer report is a bug; error
 * answers are fine, but each must carry a message.
 */
#include "server_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static tb_server srv;
static struct entry ent;

/* One model and one server record for every input; no solver, so verify
 * and tolerance requests are answered 422 quickly. */
static int setup(void)
{
    static const char *const out[1] = {"u"};
    tb_model_input in[3] = {
        {"alpha", 0.01, 1, 4}, {"x", 0, 1, 5}, {"t", 0, 1, 5}};
    double lo = 0, hi = 1;
    int hidden[1] = {4};

    tb_server_opts_default(&srv.opts);
    srv.opts.max_batch = 64;
    metrics_init(&srv.metrics);
    snprintf(ent.name, sizeof(ent.name), "fuzz");
    snprintf(ent.input_list, sizeof(ent.input_list), "alpha, x, t");
    snprintf(ent.no_verify, sizeof(ent.no_verify), "no solver when fuzzing");
    ent.version = 1;
    tb_log_set_level(TB_LOG_ERROR);
    if (tb_model_init(&ent.model, 3, in, 1, out, &lo, &hi, 1, hidden,
                      TB_ACT_TANH, 1, NULL) != 0)
        return -1;
    ent.model.report.n_grid = 1;

    /* As the registry does when it loads a model. */
    return json_prerender(&ent);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = -1;
    struct request rq = {.srv = &srv, .entry = &ent};
    struct reply rep = {0};
    tb_error err;
    int rc;

    if (ready < 0)
        ready = setup();
    if (ready != 0 || size < 1)
        return 0;

    /* The first byte picks the form; the rest is the body. */
    rq.body = (char *)data + 1;
    rq.len = size - 1;
    tb_error_clear(&err);
    rc = data[0] & 1 ? predict_answer(&rq, &rep, &err)
                     : infer_answer(&rq, &rep, &err);
    /* A success carries an answer (a JSON body or rendered text); a
     * failure carries a message. */
    if ((rc == 0) != (rep.body != NULL || rep.text != NULL) ||
        (rc != 0 && !err.text[0]))
        abort();
    /* Rendered text is joined from pieces: it must still parse. */
    if (rep.text) {
        json_t *back = json_loads(rep.text, 0, NULL);

        if (!back)
            abort();
        json_decref(back);
    }
    json_decref(rep.body);
    free(rep.text);
    return 0;
}

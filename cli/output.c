/*
 * output.c - checks on a command's output file made before any work, so
 * that a long tabulation or training run never ends in a write that was
 * never going to succeed, and never replaces its own input.
 */
#include "cli.h"

#include <string.h>

int cli_check_output(const char *cmd, const char *output, const char *input)
{
    tb_error err;

    if (input && tb_path_same_file(input, output))
        return cli_usage(cmd,
                         "-o %s is the input file; expected a different "
                         "file, so that the input is kept",
                         output);

    tb_error_clear(&err);
    if (tb_path_writable(output, &err) != 0)
        return cli_usage(cmd, "cannot write -o %s: %s", output, err.text);
    return 0;
}

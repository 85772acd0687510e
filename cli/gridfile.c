/*
 * gridfile.c - a grid read from a JSON file (--grid-file), as an
 * alternative to repeating --grid:
 *
 *   {"axes": [{"name": "t", "lo": 1e-4, "hi": 1e10, "n": 57,
 *              "spacing": "log"},
 *             {"name": "k1", "lo": 0.02, "hi": 0.08, "n": 5}]}
 *
 * Axes the file does not name keep the values they had (the problem's
 * defaults).  "spacing" is optional and uniform when left out.  Every
 * error names the file and the axis.
 */
#include "cli.h"

#include <string.h>

/* One number member of an axis object, required. */
static int get_number(json_t *obj, const char *key, const char *file,
                      const char *axis, double *v, tb_error *err)
{
    json_t *j = json_object_get(obj, key);

    if (!json_is_number(j))
        return tb_error_set(err, TB_EINVAL, axis,
                            "%s: axis '%s' needs a number \"%s\"", file, axis,
                            key);
    *v = json_number_value(j);
    return 0;
}

/* The count n: a whole number of at least 2. */
static int get_count(json_t *obj, const char *file, const char *axis, int *n,
                     tb_error *err)
{
    json_t *j = json_object_get(obj, "n");

    if (!json_is_integer(j) || json_integer_value(j) < 2 ||
        json_integer_value(j) > 100000000)
        return tb_error_set(err, TB_EINVAL, axis,
                            "%s: axis '%s' needs \"n\", a whole number of "
                            "nodes >= 2",
                            file, axis);
    *n = (int)json_integer_value(j);
    return 0;
}

/* The optional spacing; uniform when absent. */
static int get_spacing(json_t *obj, const char *file, const char *axis,
                       int *spacing, tb_error *err)
{
    json_t *j = json_object_get(obj, "spacing");

    *spacing = TB_SPACING_UNIFORM;
    if (!j)
        return 0;
    if (json_is_string(j))
        *spacing = tb_spacing_parse(json_string_value(j));
    if (!json_is_string(j) || *spacing < 0)
        return tb_error_set(err, TB_EINVAL, axis,
                            "%s: axis '%s' has a bad \"spacing\"; expected "
                            "\"uniform\", \"log\" or \"cheb\"",
                            file, axis);
    return 0;
}

/* The axis index an entry names, refusing unknown and repeated names. */
static int entry_index(const tb_problem *p, json_t *obj, const char *file,
                       const int *seen, tb_error *err)
{
    const char *name = json_string_value(json_object_get(obj, "name"));
    int k;

    if (!json_is_object(obj) || !name)
        return tb_error_set(err, TB_EINVAL, file,
                            "%s: every entry of \"axes\" must be an object "
                            "with a \"name\"",
                            file);
    k = tb_problem_input(p, name);
    if (k < 0)
        return tb_error_set(err, TB_EINVAL, name,
                            "%s: unknown axis '%s'; %s has no such input", file,
                            name, p->name);
    if (seen[k])
        return tb_error_set(err, TB_EINVAL, name,
                            "%s: axis '%s' is given twice", file, name);
    return k;
}

/* Apply one entry of "axes" to axes[] after checking it. */
static int apply_entry(const tb_problem *p, json_t *obj, const char *file,
                       tb_axis *axes, int *seen, tb_error *err)
{
    int k = entry_index(p, obj, file, seen, err);
    tb_axis a;
    int rc;

    if (k < 0)
        return TB_EINVAL;
    a = axes[k];
    rc = get_number(obj, "lo", file, a.name, &a.lo, err);
    if (rc == 0)
        rc = get_number(obj, "hi", file, a.name, &a.hi, err);
    if (rc == 0)
        rc = get_count(obj, file, a.name, &a.n, err);
    if (rc == 0)
        rc = get_spacing(obj, file, a.name, &a.spacing, err);
    if (rc == 0 && tb_axis_check(p, k, &a, err) != 0)
        rc = TB_EINVAL;
    if (rc != 0)
        return rc;
    axes[k] = a;
    seen[k] = 1;
    return 0;
}

/* Read a --grid-file and apply its axes to axes (the problem's input
 * order).  Returns 0 or TB_EINVAL naming the file and the axis. */
int cli_parse_grid_file(const tb_problem *p, const char *path, tb_axis *axes,
                        tb_error *err)
{
    int seen[TB_MAX_INPUTS] = {0};
    json_error_t jerr;
    json_t *root, *list;
    size_t i;
    int rc = 0;

    if (!path[0])
        return tb_error_set(err, TB_EINVAL, "--grid-file",
                            "--grid-file: the name is empty; expected a "
                            "JSON file");
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    /* Jansson gives line -1 when the file cannot be opened at all. */
    if (!root && jerr.line < 1)
        return tb_error_set(err, TB_EINVAL, "--grid-file", "--grid-file: %s",
                            jerr.text);
    if (!root)
        return tb_error_set(err, TB_EINVAL, path, "%s: line %d: %s", path,
                            jerr.line, jerr.text);

    list = json_object_get(root, "axes");
    if (!json_is_array(list) || json_array_size(list) == 0)
        rc = tb_error_set(err, TB_EINVAL, path,
                          "%s: expected an object with \"axes\", a list "
                          "of {\"name\", \"lo\", \"hi\", \"n\"[, "
                          "\"spacing\"]}",
                          path);
    for (i = 0; rc == 0 && i < json_array_size(list); i++)
        rc = apply_entry(p, json_array_get(list, i), path, axes, seen, err);
    json_decref(root);
    return rc;
}

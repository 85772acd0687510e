/*
 * h5io.h - small HDF5 helpers for the table file (private to solver/):
 * scalar attributes and whole datasets, written and read back with checks.
 *
 * Every function returns 0 on success and -1 on failure.  The readers
 * write what was wrong ("is missing", "has shape 4x3, expected 4x5") into
 * why, for the caller to put after the item's name in its message.
 */
#ifndef TB_H5IO_H
#define TB_H5IO_H

#include <hdf5.h>

#include <stddef.h>

#define H5IO_WHY 160 /* room for a reason */

/* Write a scalar attribute: a UTF-8 variable-length string, a double, or
 * an integer stored as ftype (e.g. H5T_STD_I32LE). */
int tbs_h5_put_str(hid_t loc, const char *name, const char *value);
int tbs_h5_put_double(hid_t loc, const char *name, double v);
int tbs_h5_put_long(hid_t loc, const char *name, long v, hid_t ftype);

/* Read a scalar attribute.  Strings may be fixed- or variable-length and
 * must fit in size bytes with their terminator; a double may be stored as
 * any number, a long only as an integer. */
int tbs_h5_get_str(hid_t loc, const char *name, char *buf, size_t size,
                   char *why);
int tbs_h5_get_double(hid_t loc, const char *name, double *v, char *why);
int tbs_h5_get_long(hid_t loc, const char *name, long *v, char *why);

/* Create dataset name under loc with the given shape and write data (in
 * mtype) into it as ftype.  Returns the open dataset (the caller closes
 * it) or -1. */
hid_t tbs_h5_put_dataset(hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                         int rank, const hsize_t *dims, const void *data);

/* Open dataset name under loc and check that it holds numbers in exactly
 * the given shape.  Returns the open dataset (the caller closes it) or -1
 * with the reason in why. */
hid_t tbs_h5_open_dataset(hid_t loc, const char *name, int rank,
                          const hsize_t *dims, char *why);

/* Open group name under loc; -1 with the reason in why. */
hid_t tbs_h5_open_group(hid_t loc, const char *name, char *why);

#endif

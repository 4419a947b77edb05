/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sparrow-fpgen's vector classes (fpgen_classes.c): the table of classes, each with a maker that
 * writes the operands of its vectors, and the number of vectors each class contributes.
 */
#ifndef SPARROW_TESTS_FP_FPGEN_CLASSES_H_
#define SPARROW_TESTS_FP_FPGEN_CLASSES_H_

#include "fpgen_values.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { OP_ADD, OP_MUL } fp_op_t;

/* ---------------------------------------------------------------------------------------------- */
/* Vector classes. Each maker writes the operands of vector number `index` of its class. */

typedef struct {
  rng_t rng;
  fp_op_t op;
} generator_t;

typedef void (*make_vector_fn)(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b);

/* ---------------------------------------------------------------------------------------------- */
/* The class table. */

enum { FOR_ADD = 1u << OP_ADD, FOR_MUL = 1u << OP_MUL, FOR_BOTH = FOR_ADD | FOR_MUL };
typedef enum { SUITE_TARGETED = 1, SUITE_RANDOM = 2, SUITE_ALL = 3 } suite_t;

typedef struct {
  const char *name;
  unsigned ops;   /* FOR_ADD / FOR_MUL */
  suite_t suite;  /* SUITE_TARGETED or SUITE_RANDOM */
  uint64_t count; /* targeted: vectors; random: share of --count */
  make_vector_fn make;
  const char *summary;
} vector_class_t;

extern const vector_class_t kFpgenClasses[];
extern const size_t kFpgenNumClasses; /* entries in kFpgenClasses */

bool fpgen_class_selected(const vector_class_t *vclass, fp_op_t op, suite_t suite);
uint64_t fpgen_class_count(const vector_class_t *vclass, fp_op_t op, uint64_t random_count);

#endif /* SPARROW_TESTS_FP_FPGEN_CLASSES_H_ */

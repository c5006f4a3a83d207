/* be_kernel_set.h -- internal, included by be_kernels.c only: which kernel table entries a build
 * compiles (be_kernels.h "Kernel families"). Every BE_KEEP_<FAMILY> becomes 0 or 1: given on the
 * command line (-DBE_KEEP_CONV2D_BIN=1), else 1, or 0 under -DBE_KERNEL_SUBSET. BE_KEEP_REF_<OP>
 * keeps the reference entry of an op type when any family of that type is kept. */
#ifndef BE_KERNEL_SET_H
#define BE_KERNEL_SET_H

#ifdef BE_KERNEL_SUBSET
#define BE_KEEP_DEFAULT 0
#else
#define BE_KEEP_DEFAULT 1
#endif

#ifndef BE_KEEP_DENSE_BIN
#define BE_KEEP_DENSE_BIN BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_DENSE_U8
#define BE_KEEP_DENSE_U8 BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_DENSE_I8
#define BE_KEEP_DENSE_I8 BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_CONV2D_BIN
#define BE_KEEP_CONV2D_BIN BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_CONV2D_U8
#define BE_KEEP_CONV2D_U8 BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_CONV2D_I8
#define BE_KEEP_CONV2D_I8 BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_CONV2D_PLANES
#define BE_KEEP_CONV2D_PLANES BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_DENSE_PLANES
#define BE_KEEP_DENSE_PLANES BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_MAXPOOL2D_BIN
#define BE_KEEP_MAXPOOL2D_BIN BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_MAXPOOL2D_I8
#define BE_KEEP_MAXPOOL2D_I8 BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_FLATTEN
#define BE_KEEP_FLATTEN BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_RESHAPE
#define BE_KEEP_RESHAPE BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_AVGPOOL2D
#define BE_KEEP_AVGPOOL2D BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_ADD
#define BE_KEEP_ADD BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_REQUANTIZE
#define BE_KEEP_REQUANTIZE BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_THRESHOLD
#define BE_KEEP_THRESHOLD BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_CONCAT
#define BE_KEEP_CONCAT BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_MERGE
#define BE_KEEP_MERGE BE_KEEP_DEFAULT
#endif
#ifndef BE_KEEP_LSTM_BIN
#define BE_KEEP_LSTM_BIN BE_KEEP_DEFAULT
#endif

#if BE_KEEP_DENSE_BIN || BE_KEEP_DENSE_U8 || BE_KEEP_DENSE_I8 || BE_KEEP_DENSE_PLANES
#define BE_KEEP_REF_DENSE 1
#else
#define BE_KEEP_REF_DENSE 0
#endif
#if BE_KEEP_CONV2D_BIN || BE_KEEP_CONV2D_U8 || BE_KEEP_CONV2D_I8 || BE_KEEP_CONV2D_PLANES
#define BE_KEEP_REF_CONV2D 1
#else
#define BE_KEEP_REF_CONV2D 0
#endif
#if BE_KEEP_MAXPOOL2D_BIN || BE_KEEP_MAXPOOL2D_I8
#define BE_KEEP_REF_MAXPOOL2D 1
#else
#define BE_KEEP_REF_MAXPOOL2D 0
#endif
#if BE_KEEP_FLATTEN
#define BE_KEEP_REF_FLATTEN 1
#else
#define BE_KEEP_REF_FLATTEN 0
#endif
#if BE_KEEP_RESHAPE
#define BE_KEEP_REF_RESHAPE 1
#else
#define BE_KEEP_REF_RESHAPE 0
#endif
#if BE_KEEP_AVGPOOL2D
#define BE_KEEP_REF_AVGPOOL2D 1
#else
#define BE_KEEP_REF_AVGPOOL2D 0
#endif
#if BE_KEEP_ADD
#define BE_KEEP_REF_ADD 1
#else
#define BE_KEEP_REF_ADD 0
#endif
#if BE_KEEP_REQUANTIZE
#define BE_KEEP_REF_REQUANTIZE 1
#else
#define BE_KEEP_REF_REQUANTIZE 0
#endif
#if BE_KEEP_THRESHOLD
#define BE_KEEP_REF_THRESHOLD 1
#else
#define BE_KEEP_REF_THRESHOLD 0
#endif
#if BE_KEEP_CONCAT
#define BE_KEEP_REF_CONCAT 1
#else
#define BE_KEEP_REF_CONCAT 0
#endif
#if BE_KEEP_MERGE
#define BE_KEEP_REF_MERGE 1
#else
#define BE_KEEP_REF_MERGE 0
#endif
#if BE_KEEP_LSTM_BIN
#define BE_KEEP_REF_LSTM 1
#else
#define BE_KEEP_REF_LSTM 0
#endif

#if !(BE_KEEP_REF_DENSE || BE_KEEP_REF_CONV2D || BE_KEEP_REF_MAXPOOL2D || BE_KEEP_REF_FLATTEN || BE_KEEP_REF_RESHAPE || BE_KEEP_REF_AVGPOOL2D || BE_KEEP_REF_ADD || BE_KEEP_REF_REQUANTIZE || BE_KEEP_REF_THRESHOLD || BE_KEEP_REF_CONCAT || BE_KEEP_REF_MERGE || BE_KEEP_REF_LSTM)
#error "BE_KERNEL_SUBSET keeps no kernel family: add -DBE_KEEP_<FAMILY>=1 for the model's families"
#endif

/* BE_ROW(FAMILY, entry fields...) / BE_REF(OP, entry fields...): one table entry, compiled only
 * if its family (a ref entry: its op type) is kept. Two expansion levels, so BE_KEEP_* becomes
 * its 0 / 1 before it is pasted. */
#define BE_ROW(fam, ...) BE_ROW_IF(BE_KEEP_##fam, BE_KF_##fam, __VA_ARGS__)
#define BE_REF(op, ...) BE_ROW_IF(BE_KEEP_REF_##op, BE_KF_ANY, __VA_ARGS__)
#define BE_ROW_IF(keep, fam, ...) BE_ROW_IF_(keep, fam, __VA_ARGS__)
#define BE_ROW_IF_(keep, fam, ...) BE_ROW_KEEP_##keep(fam, __VA_ARGS__)
#define BE_ROW_KEEP_1(fam, ...) {__VA_ARGS__, fam},
#define BE_ROW_KEEP_0(fam, ...)

#endif /* BE_KERNEL_SET_H */

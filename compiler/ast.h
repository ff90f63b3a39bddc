/* ast.h: the front end: the parsed model (ast.c), the parser (lexer.l,
 * parser.y), the checker (sema.c), lowering to the IR (lower.c) and the
 * weights statement (weights.c). Nothing after lowering includes this.
 *
 *   source text -> lexer.l/parser.y -> Model -> sema.c -> lower.c -> Graph
 */
#ifndef CNNC_AST_H
#define CNNC_AST_H

#include "ir.h"

/* ---- ast.c: the parsed model ---- */
typedef enum { VAL_INT, VAL_REAL, VAL_BOOL, VAL_IDENT, VAL_STRING, VAL_LIST } ValKind;

typedef struct Value Value;
struct Value {
    ValKind kind;
    Loc loc;
    long long i;       /* VAL_INT, VAL_BOOL (0/1) */
    double r;          /* VAL_REAL; also set for VAL_INT */
    const char *s;     /* VAL_IDENT, VAL_STRING */
    Value *items;      /* VAL_LIST: first item, linked by next */
    int nitems;
    Value *next;       /* next item of the enclosing list */
    Value *last;       /* the first item of a list being built: its last item */
};

typedef struct Attr Attr;
struct Attr {
    Attr *next;
    const char *key;
    Loc loc;           /* the key */
    Value *val;
};

typedef struct SrcRef SrcRef;
struct SrcRef {
    SrcRef *next;
    const char *name;
    Loc loc;
};

typedef enum { STMT_INPUT, STMT_WEIGHTS, STMT_OUTPUT, STMT_LAYER } StmtKind;

struct Op;
typedef struct Stmt Stmt;
struct Stmt {
    Stmt *next;
    StmtKind kind;
    Loc loc;           /* first token of the statement */
    const char *name;  /* layer (NULL until sema if unnamed), input, output */
    Loc name_loc;
    const char *op;    /* STMT_LAYER: op as written; STMT_WEIGHTS: "random" or NULL */
    Loc op_loc;
    SrcRef *srcs;      /* STMT_LAYER: explicit SOURCEs */
    int nsrcs;
    Attr *attrs;       /* STMT_LAYER: KEY=VALUE; STMT_WEIGHTS random(...) */
    Value *dims;       /* STMT_INPUT: list of dimensions */
    const char *path;  /* STMT_WEIGHTS "FILE" */
    /* set by sema.c */
    int op_kind;       /* OpKind of a layer */
    struct Op *info;   /* the checked op: kind, window, parameters, act */
    int then_softmax;  /* activation=softmax: a softmax op follows */
    int bias;          /* conv2d/dense: has a bias tensor */
    Stmt **in;         /* resolved sources (the input's Stmt for the input) */
    int nin;
    Shape shape;       /* output shape */
    int live;          /* reaches the output */
    /* set by lower.c */
    int tensor;        /* id of the Tensor it produces */
};

typedef struct Model {
    const char *name;
    Loc name_loc;
    Loc loc;           /* the 'model' keyword */
    Stmt *stmts;       /* in file order */
    Stmt **tail;
} Model;

Model *ast_new_model(Ctx *ctx, const char *name, Loc loc, Loc name_loc);
Stmt *ast_new_stmt(Ctx *ctx, StmtKind kind, Loc loc);
void ast_add_stmt(Model *m, Stmt *s);
Value *ast_new_value(Ctx *ctx, ValKind kind, Loc loc);
Value *ast_list_append(Value *list, Value *item);   /* returns list */
Attr *ast_new_attr(Ctx *ctx, const char *key, Loc loc, Value *val);
SrcRef *ast_new_srcref(Ctx *ctx, const char *name, Loc loc);
void ast_dump(const Model *m, FILE *out);

/* ---- lexer.l + parser.y: text -> Model ---- */
/* Returns the model, or NULL when nothing could be built; errors are reported. */
Model *parse_model(Ctx *ctx);

/* ---- sema.c: names, arguments, shapes ---- */
/* Checks the model: resolves names and sources, checks every argument and
 * infers every shape, filling the sema fields of each Stmt. 0 ok, -1 error. */
int sema_check(Ctx *ctx, Model *m);
/* The statements sema found, for lower.c and weights.c. */
const Stmt *sema_find(const Model *m, StmtKind kind);

/* ---- lower.c: checked Model -> Graph ---- */
Graph *lower_model(Ctx *ctx, const Model *m, const char *path);

/* ---- weights.c: bind parameters from a file or random(seed) ---- */
/* Fills data of every TR_WEIGHT tensor from the model's weights statement
 * (a safetensors file relative to base_dir, or random). 0 ok, -1 error. */
int weights_bind(Ctx *ctx, Graph *g, const Model *m, const char *base_dir);

#endif

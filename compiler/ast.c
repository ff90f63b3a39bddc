/* ast.c: constructors for the parsed model (all memory from the Ctx's
 * arena) and a stable text dump of it (--dump-ast).
 */
#include "ast.h"

Model *ast_new_model(Ctx *ctx, const char *name, Loc loc, Loc name_loc)
{
    Model *m = arena_alloc(ctx->arena, sizeof *m);
    m->name = name;
    m->loc = loc;
    m->name_loc = name_loc;
    m->tail = &m->stmts;
    return m;
}

Stmt *ast_new_stmt(Ctx *ctx, StmtKind kind, Loc loc)
{
    Stmt *s = arena_alloc(ctx->arena, sizeof *s);
    s->kind = kind;
    s->loc = loc;
    s->op_kind = -1;
    s->tensor = -1;
    return s;
}

void ast_add_stmt(Model *m, Stmt *s)
{
    if (!m)
        return;
    *m->tail = s;
    m->tail = &s->next;
}

Value *ast_new_value(Ctx *ctx, ValKind kind, Loc loc)
{
    Value *v = arena_alloc(ctx->arena, sizeof *v);
    v->kind = kind;
    v->loc = loc;
    return v;
}

/* O(1): the head remembers the last item, so long lists parse in linear time. */
Value *ast_list_append(Value *list, Value *item)
{
    Value *last = list->last ? list->last : list;
    last->next = item;
    list->last = item;
    return list;
}

Attr *ast_new_attr(Ctx *ctx, const char *key, Loc loc, Value *val)
{
    Attr *a = arena_alloc(ctx->arena, sizeof *a);
    a->key = key;
    a->loc = loc;
    a->val = val;
    return a;
}

SrcRef *ast_new_srcref(Ctx *ctx, const char *name, Loc loc)
{
    SrcRef *s = arena_alloc(ctx->arena, sizeof *s);
    s->name = name;
    s->loc = loc;
    return s;
}

static void dump_value(const Value *v, FILE *out)
{
    switch (v->kind) {
    case VAL_INT: fprintf(out, "%lld", v->i); break;
    case VAL_REAL: fprintf(out, "%.17g", v->r); break;
    case VAL_BOOL: fputs(v->i ? "true" : "false", out); break;
    case VAL_IDENT: fputs(v->s, out); break;
    case VAL_STRING: fprintf(out, "\"%s\"", v->s); break;
    case VAL_LIST:
        fputc('[', out);
        for (const Value *it = v->items; it; it = it->next) {
            dump_value(it, out);
            if (it->next)
                fputs(", ", out);
        }
        fputc(']', out);
        break;
    }
}

static void dump_args(const Stmt *s, FILE *out)
{
    const char *sep = "";
    fputc('(', out);
    for (const SrcRef *r = s->srcs; r; r = r->next, sep = ", ")
        fprintf(out, "%s%s", sep, r->name);
    for (const Attr *a = s->attrs; a; a = a->next, sep = ", ") {
        fprintf(out, "%s%s=", sep, a->key);
        dump_value(a->val, out);
    }
    fputc(')', out);
}

void ast_dump(const Model *m, FILE *out)
{
    fprintf(out, "model %s\n", m->name);
    for (const Stmt *s = m->stmts; s; s = s->next) {
        fprintf(out, "%d:%d ", s->loc.line, s->loc.col);
        switch (s->kind) {
        case STMT_INPUT:
            fprintf(out, "input %s ", s->name);
            dump_value(&(Value){ .kind = VAL_LIST, .items = s->dims }, out);
            break;
        case STMT_WEIGHTS:
            if (s->path)
                fprintf(out, "weights \"%s\"", s->path);
            else
                fputs("weights random", out), dump_args(s, out);
            break;
        case STMT_OUTPUT: fprintf(out, "output %s", s->name); break;
        case STMT_LAYER:
            fprintf(out, "%s = %s", s->name ? s->name : "?", s->op);
            dump_args(s, out);
            break;
        }
        fputc('\n', out);
    }
}

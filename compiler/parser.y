/* parser.y: the grammar of .cnn (docs/language.md). Each action is one
 * ast_* call. Pure and reentrant: all state is in the scanner and Ctx.
 * Errors are reported with the unexpected token's location, and the parser
 * recovers at the next ';' so one run reports several mistakes.
 */
%define api.pure full
%define api.prefix {cnn_yy}
%define api.location.type {Loc}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {yyscan_t scanner}
%parse-param {struct LexState *st}

%code requires {
#include "ast.h"
#include "parse.h"
typedef void *yyscan_t;
typedef struct ArgList { SrcRef *srcs, **src_tail; Attr *attrs, **attr_tail; int nsrcs; } ArgList;
}

%code provides {
int cnn_yylex(CNN_YYSTYPE *yylval, Loc *yylloc, yyscan_t scanner);
void lex_advance(struct LexState *st, Loc *loc, const char *text, int len);
}

%code {
#include <string.h>
#define YYLLOC_DEFAULT(Cur, Rhs, N) do {                                   \
    if (N) {                                                               \
        (Cur) = YYRHSLOC(Rhs, 1);                                          \
        (Cur).len = YYRHSLOC(Rhs, N).off + YYRHSLOC(Rhs, N).len - (Cur).off; \
    } else {                                                               \
        (Cur) = YYRHSLOC(Rhs, 0);                                          \
        (Cur).off += (Cur).len;                                            \
        (Cur).col += (Cur).len;                                            \
        (Cur).len = 0;                                                     \
    }                                                                      \
} while (0)

static void cnn_yyerror(Loc *loc, yyscan_t scanner, struct LexState *st, const char *msg);
static void args_add_src(struct LexState *st, ArgList *a, SrcRef *s);
static void args_add_attr(ArgList *a, Attr *at);
#define CTX (st->ctx)
}

%union {
    const char *str;
    long long integer;
    double real;
    Value *val;
    Attr *attr;
    SrcRef *src;
    Stmt *stmt;
    ArgList args;
}

%token MODEL "'model'" INPUT "'input'" WEIGHTS "'weights'" OUTPUT "'output'"
%token RANDOM "'random'" TRUE "'true'" FALSE "'false'"
%token <str> IDENT "identifier" STRING "string"
%token <integer> INT "integer"
%token <real> REAL "number"

%type <val> value scalar scalars
%type <stmt> call
%type <args> args arglist
%type <str> model_name

%%

file
    : model_decl
    ;

model_decl
    : MODEL model_name '{' items '}'
    ;

model_name
    : IDENT { st->model = ast_new_model(CTX, $1, @$, @1); }
    ;

items
    : %empty
    | items item
    ;

item
    : INPUT IDENT '[' scalars ']' ';'   { Stmt *s = ast_new_stmt(CTX, STMT_INPUT, @1); s->name = $2; s->name_loc = @2; s->dims = $4; ast_add_stmt(st->model, s); }
    | INPUT IDENT '[' ']' ';'           { diag_error(CTX, @4, "input '%s' needs its dimensions, e.g. [1, 28, 28]", $2); }
    | WEIGHTS STRING args ';'           { Stmt *s = ast_new_stmt(CTX, STMT_WEIGHTS, @1); s->path = $2; s->name_loc = @2; s->attrs = $3.attrs; s->srcs = $3.srcs; s->nsrcs = $3.nsrcs; ast_add_stmt(st->model, s); }
    | WEIGHTS RANDOM args ';'           { Stmt *s = ast_new_stmt(CTX, STMT_WEIGHTS, @1); s->op = "random"; s->op_loc = @2; s->attrs = $3.attrs; s->srcs = $3.srcs; s->nsrcs = $3.nsrcs; ast_add_stmt(st->model, s); }
    | OUTPUT IDENT ';'                  { Stmt *s = ast_new_stmt(CTX, STMT_OUTPUT, @1); s->name = $2; s->name_loc = @2; ast_add_stmt(st->model, s); }
    | IDENT '=' call ';'                { $3->name = $1; $3->name_loc = @1; $3->loc = @1; ast_add_stmt(st->model, $3); }
    | call ';'                          { ast_add_stmt(st->model, $1); }
    | error ';'                         { yyerrok; }
    ;

call
    : IDENT args                        { $$ = ast_new_stmt(CTX, STMT_LAYER, @1); $$->op = $1; $$->op_loc = @1; $$->srcs = $2.srcs; $$->nsrcs = $2.nsrcs; $$->attrs = $2.attrs; }
    ;

args
    : %empty                            { $$ = (ArgList){ 0 }; }
    | '(' ')'                           { $$ = (ArgList){ 0 }; }
    | '(' arglist ')'                   { $$ = $2; }
    ;

arglist
    : IDENT                             { $$ = (ArgList){ 0 }; args_add_src(st, &$$, ast_new_srcref(CTX, $1, @1)); }
    | IDENT '=' value                   { $$ = (ArgList){ 0 }; args_add_attr(&$$, ast_new_attr(CTX, $1, @1, $3)); }
    | arglist ',' IDENT                 { $$ = $1; args_add_src(st, &$$, ast_new_srcref(CTX, $3, @3)); }
    | arglist ',' IDENT '=' value       { $$ = $1; args_add_attr(&$$, ast_new_attr(CTX, $3, @3, $5)); }
    ;

value
    : scalar
    | '[' scalars ']'                   { $$ = ast_new_value(CTX, VAL_LIST, @$); $$->items = $2; for (Value *v = $2; v; v = v->next) $$->nitems++; }
    | '[' ']'                           { $$ = ast_new_value(CTX, VAL_LIST, @$); }
    ;

scalars
    : scalar                            { $$ = $1; }
    | scalars ',' scalar                { $$ = ast_list_append($1, $3); }
    ;

scalar
    : INT                               { $$ = ast_new_value(CTX, VAL_INT, @1); $$->i = $1; $$->r = (double)$1; }
    | REAL                              { $$ = ast_new_value(CTX, VAL_REAL, @1); $$->r = $1; }
    | TRUE                              { $$ = ast_new_value(CTX, VAL_BOOL, @1); $$->i = 1; }
    | FALSE                             { $$ = ast_new_value(CTX, VAL_BOOL, @1); $$->i = 0; }
    | IDENT                             { $$ = ast_new_value(CTX, VAL_IDENT, @1); $$->s = $1; }
    | STRING                            { $$ = ast_new_value(CTX, VAL_STRING, @1); $$->s = $1; }
    ;

%%

static void args_add_src(struct LexState *st, ArgList *a, SrcRef *s)
{
    if (a->attrs)
        diag_error(CTX, s->loc, "source '%s' must come before the key=value arguments", s->name);
    if (!a->src_tail)
        a->src_tail = &a->srcs;
    *a->src_tail = s;
    a->src_tail = &s->next;
    a->nsrcs++;
}

static void args_add_attr(ArgList *a, Attr *at)
{
    if (!a->attr_tail)
        a->attr_tail = &a->attrs;
    *a->attr_tail = at;
    a->attr_tail = &at->next;
}

static void cnn_yyerror(Loc *loc, yyscan_t scanner, struct LexState *st, const char *msg)
{
    (void)scanner;
    diag_error(CTX, *loc, "%s", msg);
}

/* The text of the unexpected token: "identifier 'relu'", "';'", "end of file". */
static const char *token_desc(struct LexState *st, yysymbol_kind_t tok, Loc loc)
{
    Arena *a = CTX->arena;
    const char *text = CTX->src->text + loc.off;
    switch (tok) {
    case YYSYMBOL_YYEOF: return "end of file";
    case YYSYMBOL_IDENT: return arena_printf(a, "identifier '%.*s'", loc.len, text);
    case YYSYMBOL_INT:
    case YYSYMBOL_REAL: return arena_printf(a, "number %.*s", loc.len, text);
    case YYSYMBOL_STRING: return "string";
    default: return yysymbol_name(tok);
    }
}

static int yyreport_syntax_error(const yypcontext_t *pc, yyscan_t scanner, struct LexState *st)
{
    (void)scanner;
    enum { MAX_EXPECTED = 5 };
    yysymbol_kind_t expected[MAX_EXPECTED];
    int n = yypcontext_expected_tokens(pc, expected, MAX_EXPECTED);
    yysymbol_kind_t tok = yypcontext_token(pc);
    Loc loc = *yypcontext_location(pc);
    Buf b;
    buf_init(&b);
    int want_semi = 0;
    for (int i = 0; i < n; i++)
        want_semi |= strcmp(yysymbol_name(expected[i]), "';'") == 0;
    if (want_semi && tok != YYSYMBOL_YYEOF && loc.line > st->prev.line && st->prev.line > 0) {
        Loc end = st->prev;                      /* just after the previous token */
        end.off += end.len;
        end.col += end.len;
        end.len = 0;
        diag_error(CTX, end, "expected ';' at the end of the statement");
        buf_free(&b);
        return 0;
    }
    if (tok == YYSYMBOL_YYEOF && st->model) {
        if (st->prev.line > 0) {                 /* point just past the last token */
            loc = st->prev;
            loc.off += loc.len;
            loc.col += loc.len;
            loc.len = 0;
        }
        buf_printf(&b, "unexpected end of file, expected '}' (to close 'model' at line %d)",
                   st->model->loc.line);
    } else {
        buf_printf(&b, "unexpected %s", token_desc(st, tok, loc));
        for (int i = 0; i < n && n > 0; i++)
            buf_printf(&b, "%s%s", i == 0 ? ", expected " : i == n - 1 ? " or " : ", ",
                       yysymbol_name(expected[i]));
    }
    diag_error(CTX, loc, "%s", b.data);
    buf_free(&b);
    return 0;
}

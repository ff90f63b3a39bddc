/* parse.h: what lexer.l and parser.y share: the scanner's extra state. */
#ifndef CNNC_PARSE_H
#define CNNC_PARSE_H

#include "ast.h"

struct LexState {
    Ctx *ctx;
    int off, line, col;   /* position of the next byte */
    Loc prev, cur;        /* the last two tokens handed to the parser */
    Model *model;         /* the result */
};

#endif

// Diffuse.g4 - the grammar of Diffuse specs.
//
// A spec is a list of imports and declarations. Every declaration has the
// same shape, `KIND NAME (PARAMS)? { ITEMS }`; what a kind allows is checked
// by Sema (compiler/Frontend/Sema.cpp), so a misspelt kind or key gets a
// "did you mean" instead of a syntax error.
grammar Diffuse;

spec      : decl* EOF ;

decl      : 'import' STRING                                       # importDecl
          | kind=ID name=ID ('(' params? ')')? '{' item* '}'      # blockDecl
          ;

params    : param (',' param)* ;
param     : ID (':' type)? ('=' expr)? ;
type      : ID ('[' INT (',' INT)* ']')? ;

item      : ID '(' idList? ')' '=' expr                           # funcItem
          | ID '(' idList? ')' '{' stmt* '}'                      # procItem
          | ID '=' expr                                           # setItem
          | 'state' stateVar (',' stateVar)*                      # stateItem
          ;
stateVar  : ID ':' ID ;
idList    : ID (',' ID)* ;

stmt      : ID '=' expr                                           # assignStmt
          | 'return' expr                                         # returnStmt
          | 'if' expr '{' thenBody+=stmt* '}'
            ('else' '{' elseBody+=stmt* '}')?                     # ifStmt
          ;

expr      : <assoc=right> expr '^' expr                           # powExpr
          | '-' expr                                              # negExpr
          | expr op=('*' | '/') expr                              # mulExpr
          | expr op=('+' | '-') expr                              # addExpr
          | expr op=('<' | '>' | '<=' | '>=' | '==' | '!=') expr  # cmpExpr
          | 'not' expr                                            # notExpr
          | expr 'and' expr                                       # andExpr
          | expr 'or' expr                                        # orExpr
          | ID '(' args? ')'                                      # callExpr
          | '[' (expr (',' expr)*)? ']'                           # listExpr
          | '(' expr ')'                                          # parenExpr
          | NUMBER                                                # numExpr
          | INT                                                   # intExpr
          | ID                                                    # idExpr
          ;
args      : arg (',' arg)* ;
arg       : (ID '=')? expr ;

ID        : [a-zA-Z_] [a-zA-Z_0-9]* ;
INT       : [0-9]+ ;
NUMBER    : [0-9]+ '.' [0-9]* EXP? | '.' [0-9]+ EXP? | [0-9]+ EXP ;
fragment EXP : [eE] [+-]? [0-9]+ ;
STRING    : '"' ~["\r\n]* '"' ;
COMMENT   : '//' ~[\r\n]* -> channel(HIDDEN) ;   // kept for `diffuse fmt`
WS        : [ \t\r\n]+ -> skip ;
ERRCHAR   : . ;

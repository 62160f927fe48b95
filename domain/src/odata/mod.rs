//! OData query language: `$filter` lexer, parser and AST (see issue 3). Being built.

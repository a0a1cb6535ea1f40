import { fileURLToPath } from 'node:url';

/** The project's `sql/` folder; src/db and dist/db sit at the same depth below the root. */
export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
export const TRANSFORM_DIR = fileURLToPath(new URL('../../sql/transform/', import.meta.url));

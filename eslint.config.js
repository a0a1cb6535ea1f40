// ESLint (flat config) with typescript-eslint. Formatting is Prettier's job (eslint-config-prettier
// turns off the rules that would fight it); the layers are dependency-cruiser's (.dependency-cruiser.cjs).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test/browser/*.png'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // This service escapes control characters (log lines, messages, the CSV): patterns that match
      // them are the point, not a typo.
      'no-control-regex': 'off',
      // TypeScript checks names itself (typescript-eslint's advice): no-undef only misreads Node's globals.
      'no-undef': 'off',
      // A promise nobody awaits or catches is how an error escapes a handler and stops the process.
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test() and describe() report their own failures; awaiting them is not needed.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Tests read JSON answers whose shape is what they assert: typing each one would restate the API.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } } },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', fetch: 'readonly', performance: 'readonly' } },
  },
  prettier,
);

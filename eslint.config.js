import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// The front ends: what drives the engine from outside. The engine is src/ without src/cli, src/task and src/remote.
const FRONT_ENDS = ['./src/cli', './src/task', './src/remote', './lambdas', './infra', './containers'];
const ENGINE_ZONE = {
  target: './src',
  from: FRONT_ENDS,
  message: 'the engine imports no front end; move what both need into an engine module.',
};
const TEST_HELPERS_ZONE = {
  target: './',
  from: './test',
  message: 'only tests import test helpers; what the demo and bench share with tests lives in scripts/support.',
};

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'dist/', '.tools/', 'coverage/', '.bench/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    // Dependencies point one way (DESIGN.md): no module reaches itself again through its imports.
    files: ['**/*.ts', '**/*.js'],
    plugins: { 'import-x': importX },
    settings: {
      // Other files are read with the TypeScript parser too, or no-cycle would see no imports in them.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })],
    },
    rules: { 'import-x/no-cycle': 'error' },
  },
  {
    // The engine never reaches up into a front end (DESIGN.md, dependency direction), and no product code imports a test helper.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/task/**', 'src/remote/**'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: [ENGINE_ZONE, TEST_HELPERS_ZONE] }] },
  },
  {
    // Test helpers are for tests only; what the demo and the benchmarks share with tests lives in scripts/support.
    files: [
      'src/cli/**/*.ts',
      'src/task/**/*.ts',
      'src/remote/**/*.ts',
      'lambdas/**/*.ts',
      'infra/**/*.ts',
      'containers/**/*.ts',
      'scripts/**/*.ts',
      'bench/**/*.ts',
    ],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: [TEST_HELPERS_ZONE] }] },
  },
  {
    // Units a reader can hold: no block nested deeper than four levels, no product file over 400 lines.
    files: ['src/**/*.ts', 'lambdas/**/*.ts', 'infra/**/*.ts', 'containers/**/*.ts'],
    rules: { 'max-depth': ['error', 4], 'max-lines': ['error', { max: 400 }] },
  },
);

// The downshift-rules validator Ajv compiles at build time (vite.config.mjs).
declare module 'virtual:downshift-validator' {
  interface ValidationError {
    instancePath: string;
    message?: string;
    params?: Record<string, unknown>;
  }
  interface Validate {
    (data: unknown): boolean;
    errors?: ValidationError[] | null;
  }
  const validate: Validate;
  export default validate;
}

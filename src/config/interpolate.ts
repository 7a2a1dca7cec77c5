/**
 * `${VAR}` and `${VAR:-default}` in string values, replaced from the
 * environment; `$${` writes a literal `${`. An unset `${VAR}` without a
 * default is an error (an empty one is not: it is set).
 */

export type Environment = Readonly<Record<string, string | undefined>>;

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const VARIABLE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

export interface Interpolated {
  value: string;
  errors: string[];
}

export function interpolate(text: string, env: Environment): Interpolated {
  const errors: string[] = [];
  if (!text.includes("${")) return { value: text, errors };
  const value = text.replace(REFERENCE, (whole, inner: string | undefined) => {
    if (whole === "$${") return "${";
    const match = VARIABLE.exec(inner ?? "");
    if (match === null) {
      errors.push(`"${whole}" is not a valid reference: use \${NAME} or \${NAME:-default}`);
      return whole;
    }
    const [, name, fallback] = match as unknown as [string, string, string | undefined];
    const found = env[name];
    // As in the shell, `:-` also covers a variable that is set but empty.
    if (found !== undefined && (found !== "" || fallback === undefined)) return found;
    if (fallback !== undefined) return fallback;
    errors.push(
      `environment variable ${name} is not set (write \${${name}:-default} to give a default)`,
    );
    return whole;
  });
  return { value, errors };
}

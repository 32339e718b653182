/** `gateway.downshift` in switchboard.yaml: where the downshift rule file lives. */
export interface DownshiftConfig {
  /** YAML rule file (see policies/downshift/default-rules.yaml); relative paths are relative to the data dir. */
  rulesFile?: string;
}

export const downshiftConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rulesFile: { type: 'string', minLength: 1 },
  },
} as const;


import { z } from 'zod';
import { section } from '../../config/types.js';
import { actionListSchema } from '../shared/attribute-actions.js';
import { attributesMatchSchema } from '../shared/match.js';

export const attributesConfigSchema = section({
  /** Act only on records that match (services, resources, libraries, attributes, bodies, severity). */
  include: attributesMatchSchema().optional(),
  /** Leave records that match alone. */
  exclude: attributesMatchSchema().optional(),
  /** Applied in order to each selected record's attributes. */
  actions: actionListSchema.min(1, 'at least one action is needed'),
});

export type AttributesConfig = z.output<typeof attributesConfigSchema>;

import { z } from 'zod';
import type { oas31 } from 'zod-openapi';
import { IMAGE_ID_PATTERN } from '@renditions/pipeline';

/** Path parameters every image route shares; the same rule rejectMalformedImageId applies (validate-id.ts). */
export const imagePath = z.object({
  id: z.string().regex(IMAGE_ID_PATTERN).meta({ description: 'The public image id', example: 'k3J9xQ2' }),
});

/** Either credential the owner-only routes accept: the upload's delete token, or an admin's. */
export const OWNER_SECURITY: oas31.SecurityRequirementObject[] = [{ deleteToken: [] }, { admin: [] }];
export const ADMIN_SECURITY: oas31.SecurityRequirementObject[] = [{ admin: [] }];

export const SECURITY_SCHEMES: Record<string, oas31.SecuritySchemeObject> = {
  deleteToken: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Delete-Token',
    description: 'The `delete_token` of the upload (shown once, in its 201)',
  },
  admin: { type: 'http', scheme: 'basic', description: 'ADMIN_USER / ADMIN_PASSWORD' },
};

export * from './enums';
export * from './assets';
export * from './images';
export * from './moderation';
export * from './webhooks';
export * from './settings';

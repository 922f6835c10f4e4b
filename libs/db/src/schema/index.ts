export * from './enums';
export * from './assets';
export * from './images';

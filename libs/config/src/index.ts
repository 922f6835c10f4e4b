export { loadConfig, ConfigError, type Config, type S3Config } from './config';

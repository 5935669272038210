DROP INDEX issues_position;

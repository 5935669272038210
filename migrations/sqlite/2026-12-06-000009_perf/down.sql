DROP INDEX issues_category_position;

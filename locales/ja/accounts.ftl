# アカウント、アプリ、ワンクリックでの再ログイン（consent.html、login.html）。
# メッセージは HTML です。引数はエスケープされます。

## 選択画面：このブラウザーで使ったアカウント

accounts-list-label = このブラウザーで使ったアカウント
accounts-continue-as = { $handle } で続ける
accounts-forget = リストから削除
accounts-forget-label = このブラウザーのリストから { $handle } を削除
accounts-another = 別のアカウントを使う

## 同意画面：アカウントとアプリ

accounts-your-server = サーバー：{ $server }
accounts-client-logo = { $client } のロゴ
accounts-client-about = { $client } について
accounts-client-privacy = プライバシーポリシー
accounts-client-terms = 利用規約
